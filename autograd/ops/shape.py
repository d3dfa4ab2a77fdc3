"""Shape ops: reshape, transpose, squeeze/unsqueeze, broadcast, sum_to, concat, stack, pad."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..function import Function
from ..tensor import Tensor

TENSOR_METHODS = ("reshape", "transpose", "swapaxes", "squeeze", "unsqueeze", "flatten",
                  "broadcast_to", "sum_to", "pad")


def _shape_args(shape: tuple) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


class Reshape(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray, shape: tuple) -> np.ndarray:
        ctx.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"cannot reshape a tensor of shape {x.shape} "
                             f"({x.size} elements) into shape {shape}") from None

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        return g.reshape(ctx.in_shape)


class Transpose(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray, axes: tuple | None) -> np.ndarray:
        ctx.axes = axes
        return np.transpose(x, axes)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        if ctx.axes is None:
            return g.transpose()
        return g.transpose(tuple(int(i) for i in np.argsort(ctx.axes)))


class BroadcastTo(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray, shape: tuple) -> np.ndarray:
        ctx.in_shape = x.shape
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(f"cannot broadcast a tensor of shape {x.shape} to shape "
                             f"{shape}") from None

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        return g.sum_to(ctx.in_shape)


class SumTo(Function):
    """Sum a broadcast array back to ``shape``: the inverse of broadcast_to."""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, shape: tuple) -> np.ndarray:
        ctx.in_shape = x.shape
        return sum_to_array(x, shape)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        return g.broadcast_to(ctx.in_shape)


def sum_to_array(x: np.ndarray, shape: tuple) -> np.ndarray:
    """numpy: sum ``x`` over the axes that broadcasting ``shape`` to ``x.shape`` added."""
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1)
    out = x.sum(axis=axes, keepdims=True) if axes else x
    if lead:
        out = out.reshape(shape)
    return out


class Concatenate(Function):
    @staticmethod
    def forward(ctx: Any, *xs: np.ndarray, axis: int = 0) -> np.ndarray:
        out = np.concatenate(xs, axis=axis)
        ax = axis % out.ndim
        ctx.axis = ax
        ctx.bounds = np.cumsum([0] + [x.shape[ax] for x in xs]).tolist()
        return out

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        b = ctx.bounds
        lead = (slice(None),) * ctx.axis
        return tuple(
            g[lead + (slice(b[i], b[i + 1]),)] if need else None
            for i, need in enumerate(ctx.needs_input_grad)
        )


class Pad(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray, pad_width: Any, constant: float = 0.0) -> np.ndarray:
        pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2))
        if (pw < 0).any():
            raise ValueError(f"pad: negative pad widths {pad_width}")
        ctx.slices = tuple(slice(int(b), int(b) + n) for (b, _), n in zip(pw, x.shape))
        return np.pad(x, pw, mode="constant", constant_values=constant)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        return g[ctx.slices]


# -- public functions (also Tensor methods) --------------------------------------------
def reshape(x: Tensor, *shape: Any) -> Tensor:
    """Same data in a new shape (one dimension may be -1)."""
    return Reshape.apply(x, shape=_shape_args(shape))


def transpose(x: Tensor, *axes: Any) -> Tensor:
    """Permute axes (reverse them when none are given)."""
    axes = _shape_args(axes)
    return Transpose.apply(x, axes=axes if axes else None)


def swapaxes(x: Tensor, axis1: int, axis2: int) -> Tensor:
    perm = list(range(x.ndim))
    perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    return Transpose.apply(x, axes=tuple(perm))


def squeeze(x: Tensor, axis: Any = None) -> Tensor:
    """Drop axes of length 1 (all of them, or the ones named)."""
    shape = x.shape
    if axis is None:
        new = tuple(s for s in shape if s != 1)
    else:
        axes = {a % x.ndim for a in ((axis,) if isinstance(axis, int) else axis)}
        for a in axes:
            if shape[a] != 1:
                raise ValueError(f"squeeze: axis {a} of shape {shape} has length {shape[a]}, not 1")
        new = tuple(s for i, s in enumerate(shape) if i not in axes)
    return Reshape.apply(x, shape=new)


def unsqueeze(x: Tensor, axis: int) -> Tensor:
    """Insert an axis of length 1 at ``axis``."""
    return Reshape.apply(x, shape=np.expand_dims(np.empty(x.shape, dtype=bool), axis).shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes ``start_dim..end_dim`` into one (all of them by default)."""
    shape = x.shape
    if not shape:
        return Reshape.apply(x, shape=(1,))
    s, e = start_dim % len(shape), end_dim % len(shape)
    new = shape[:s] + (int(np.prod(shape[s:e + 1])),) + shape[e + 1:]
    return Reshape.apply(x, shape=new)


def broadcast_to(x: Tensor, *shape: Any) -> Tensor:
    return BroadcastTo.apply(x, shape=_shape_args(shape))


def sum_to(x: Tensor, *shape: Any) -> Tensor:
    """Sum over broadcast axes so the result has ``shape``."""
    shape = _shape_args(shape)
    if x.shape == shape:
        return x
    return SumTo.apply(x, shape=shape)


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    if len(tensors) == 0:
        raise ValueError("concatenate: need at least one tensor")
    return Concatenate.apply(*tensors, axis=axis)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along a new axis."""
    if len(tensors) == 0:
        raise ValueError("stack: need at least one tensor")
    shapes = {np.shape(t._data if isinstance(t, Tensor) else t) for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors need the same shape, got {sorted(shapes)}")
    ndim = len(next(iter(shapes))) + 1
    ax = axis % ndim
    parts = [unsqueeze(t if isinstance(t, Tensor) else Tensor(t), ax) for t in tensors]
    return Concatenate.apply(*parts, axis=ax)


def pad(x: Tensor, pad_width: Any, constant: float = 0.0) -> Tensor:
    """Pad with a constant; ``pad_width`` takes numpy's forms (int, (b, a), per axis)."""
    return Pad.apply(x, pad_width=pad_width, constant=constant)
