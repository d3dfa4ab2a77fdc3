"""Reductions over axes: sum, mean, max, min, var, logsumexp, softmax, log_softmax."""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from ..function import Function
from ..tensor import Tensor

TENSOR_METHODS = ("sum", "mean", "max", "min", "var", "logsumexp", "softmax", "log_softmax")


def normalize_axis(axis: Any, ndim: int) -> tuple[int, ...]:
    """Axis argument as a sorted tuple of non-negative ints (all axes for None)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(a % ndim if ndim else 0)
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(sorted(out))


def keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


class Sum(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> Any:
        ctx.in_shape = x.shape
        ctx.kd_shape = keepdims_shape(x.shape, normalize_axis(axis, x.ndim))
        return np.sum(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        return g.reshape(ctx.kd_shape).broadcast_to(ctx.in_shape)


class Max(Function):
    """Max over axes; tied maxima share the gradient evenly."""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, axis: Any = None, keepdims: bool = False,
                largest: bool = True) -> Any:
        if x.size == 0:
            raise ValueError(f"{'max' if largest else 'min'} of an empty tensor of shape "
                             f"{x.shape}")
        out = (np.max if largest else np.min)(x, axis=axis, keepdims=True)
        ctx.save_for_backward(x, out)
        ctx.kd_shape = out.shape
        return out if keepdims else _drop(out, x.ndim, axis)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        x, out = ctx.saved_tensors
        xd = x._data
        od = out._data if isinstance(out, Tensor) else out
        mask = xd == od
        axes = tuple(i for i, (a, b) in enumerate(zip(xd.shape, od.shape)) if b == 1 and a != 1)
        count = mask.sum(axis=axes, keepdims=True) if axes else 1
        w = (mask / count).astype(xd.dtype)
        return g.reshape(ctx.kd_shape) * w


def _drop(out: np.ndarray, ndim: int, axis: Any) -> np.ndarray:
    axes = normalize_axis(axis, ndim)
    return out.reshape(tuple(s for i, s in enumerate(out.shape) if i not in axes))


class LogSumExp(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray, axis: Any = None, keepdims: bool = False) -> Any:
        m = np.max(x, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        s = np.sum(np.exp(x - m), axis=axis, keepdims=True)
        with np.errstate(divide="ignore"):  # an all -inf slice gives -inf, as it should
            out_kd = np.log(s) + m
        ctx.kd_shape = out_kd.shape
        out = out_kd if keepdims else _drop(out_kd, x.ndim, axis)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        x, out = ctx.saved_tensors
        kd = ctx.kd_shape
        return g.reshape(kd) * (x - out.reshape(kd)).exp()


class Softmax(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray, axis: int = -1) -> np.ndarray:
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        e /= np.sum(e, axis=axis, keepdims=True)
        ctx.axis = axis
        ctx.save_for_backward(e)
        return e

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return y * (g - (g * y).sum(axis=ctx.axis, keepdims=True))


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray, axis: int = -1) -> np.ndarray:
        z = x - np.max(x, axis=axis, keepdims=True)
        out = z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))
        ctx.axis = axis
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        (out,) = ctx.saved_tensors
        return g - out.exp() * g.sum(axis=ctx.axis, keepdims=True)


# -- public functions (also Tensor methods) --------------------------------------------
def sum(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis`` (all axes for None)."""
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (all axes for None)."""
    shape = np.shape(x._data if isinstance(x, Tensor) else x)
    n = math.prod(shape[a] for a in normalize_axis(axis, len(shape)))
    return Sum.apply(x, axis=axis, keepdims=keepdims) * (1.0 / n if n else float("nan"))


def max(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Max over ``axis``; ties share the gradient evenly."""
    return Max.apply(x, axis=axis, keepdims=keepdims, largest=True)


def min(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Min over ``axis``; ties share the gradient evenly."""
    return Max.apply(x, axis=axis, keepdims=keepdims, largest=False)


def var(x: Tensor, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Tensor:
    """Variance over ``axis`` with ``ddof`` delta degrees of freedom (numpy's default 0)."""
    shape = np.shape(x._data if isinstance(x, Tensor) else x)
    n = math.prod(shape[a] for a in normalize_axis(axis, len(shape)))
    d = x - mean(x, axis=axis, keepdims=True)
    return (d * d).sum(axis=axis, keepdims=keepdims) * (1.0 / (n - ddof) if n > ddof
                                                        else float("nan"))


def logsumexp(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``axis``, computed without overflow."""
    return LogSumExp.apply(x, axis=axis, keepdims=keepdims)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis``, computed without overflow."""
    return Softmax.apply(x, axis=axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along ``axis``, computed without overflow."""
    return LogSoftmax.apply(x, axis=axis)
