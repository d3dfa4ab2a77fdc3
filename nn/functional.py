"""Activations, dropout and losses as functions of Tensors (PyTorch's ``nn.functional``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

import autograd
from autograd.function import Function
from autograd.tensor import Tensor

from . import init


class Affine(Function):
    """``x @ weight.T + bias`` as one node: one matmul and one add forward."""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, weight: np.ndarray, bias: Any = None) -> np.ndarray:
        out = x @ weight.T
        if bias is not None:
            out += bias
        ctx.save_for_backward(x, weight)
        return out

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        x, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = g @ weight if need[0] else None
        gw = None
        if need[1]:
            if g.ndim == 1:
                gw = g.reshape(-1, 1) @ x.reshape(1, -1)
            elif g.ndim == 2:
                gw = g.T @ x
            else:
                gw = g.reshape(-1, g.shape[-1]).T @ x.reshape(-1, x.shape[-1])
        if len(need) == 2:
            return gx, gw
        return gx, gw, (g if need[2] else None)


def linear(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` with ``weight`` of shape ``(out, in)`` over the last axis."""
    xs = x.shape if isinstance(x, Tensor) else np.shape(x)
    if not xs or xs[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: the input of shape {tuple(xs)} has {xs[-1] if xs else 0} features in "
            f"its last axis, but the weight of shape {weight.shape} expects {weight.shape[1]}"
        )
    if bias is None:
        return Affine.apply(x, weight)
    return Affine.apply(x, weight, bias)


# -- activations ------------------------------------------------------------------------
def relu(x: Tensor) -> Tensor:
    """max(x, 0)."""
    return autograd.relu(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else ``negative_slope * x``."""
    return autograd.leaky_relu(x, negative_slope)


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), without overflow."""
    return autograd.sigmoid(x)


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return autograd.tanh(x)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis``, stable."""
    return autograd.softmax(x, axis=axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along ``axis``, stable."""
    return autograd.log_softmax(x, axis=axis)


def dropout(x: Tensor, p: float = 0.5, training: bool = True,
            rng: np.random.Generator | int | None = None) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by
    1/(1-p), so the expectation is unchanged and evaluation needs no rescaling."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    dt = data.dtype if data.dtype.kind == "f" else np.dtype(np.float32)
    if p == 1.0:
        return x * np.zeros(data.shape, dtype=dt)
    u = init.get_rng(rng).random(data.shape, dtype=dt if dt in (np.float32, np.float64)
                                 else np.float64)
    mask = (u >= p).astype(dt)
    mask *= dt.type(1.0 / (1.0 - p))
    return x * mask


# -- losses -----------------------------------------------------------------------------
_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _check_reduction(reduction: str, op: str, allowed: tuple[str, ...] = _REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{op}: reduction must be one of {allowed}, got {reduction!r}")


def _as_target(target: Any, like: Tensor, op: str) -> Any:
    """A float target as a Tensor of ``like``'s dtype (kept as-is if it needs a gradient),
    checked to have ``like``'s shape."""
    if isinstance(target, Tensor) and target.requires_grad:
        t = target
    else:
        raw = target.data if isinstance(target, Tensor) else target
        t = Tensor(np.asarray(raw, dtype=like.dtype))
    if t.shape != like.shape:
        raise ValueError(f"{op}: the target of shape {t.shape} does not match the input of "
                         f"shape {like.shape}")
    return t


def _as_input(x: Any, op: str) -> Tensor:
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: the input must be a floating tensor, got dtype {x.dtype}")
    return x


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error: (input - target)^2, reduced."""
    _check_reduction(reduction, "mse_loss")
    input = _as_input(input, "mse_loss")
    d = input - _as_target(target, input, "mse_loss")
    return _reduce(d * d, reduction, "mse_loss")


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean absolute error: |input - target|, reduced."""
    _check_reduction(reduction, "l1_loss")
    input = _as_input(input, "l1_loss")
    d = input - _as_target(target, input, "l1_loss")
    return _reduce(d.abs(), reduction, "l1_loss")


class Gather(Function):
    """``x`` picked at one index per position along ``axis`` (that axis is removed)."""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
        ctx.in_shape = x.shape
        ctx.index, ctx.axis = index, axis
        idx = np.expand_dims(index, axis)
        return np.take_along_axis(x, idx, axis=axis).squeeze(axis)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        return Scatter.apply(g, ctx.index, ctx.axis, ctx.in_shape), None, None


class Scatter(Function):
    """Zeros of ``shape`` with ``g`` placed at one index per position along ``axis``."""

    @staticmethod
    def forward(ctx: Any, g: np.ndarray, index: np.ndarray, axis: int,
                shape: tuple) -> np.ndarray:
        ctx.index, ctx.axis = index, axis
        out = np.zeros(shape, dtype=g.dtype)
        np.put_along_axis(out, np.expand_dims(index, axis), np.expand_dims(g, axis), axis=axis)
        return out

    @staticmethod
    def backward(ctx: Any, gg: Tensor) -> tuple:
        return Gather.apply(gg, ctx.index, ctx.axis), None, None, None


def _class_targets(input: Tensor, target: Any, ignore_index: int,
                   op: str) -> tuple[np.ndarray, int, np.ndarray | None]:
    """Integer class targets checked against ``input`` (classes on axis 1, or 0 when 1-d):
    (indices safe to gather, class axis, mask of kept positions or None)."""
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    axis = 1 if input.ndim >= 2 else 0
    want = input.shape[:axis] + input.shape[axis + 1:]
    if t.shape != want:
        raise ValueError(f"{op}: class targets of shape {t.shape} do not match the input of "
                         f"shape {input.shape} (expected targets of shape {want})")
    n_classes = input.shape[axis]
    keep = None
    if t.size:
        ignored = t == ignore_index
        if ignored.any():
            keep = ~ignored
            t = np.where(keep, t, 0)
        lo, hi = int(t.min()), int(t.max())
        if lo < 0 or hi >= n_classes:
            bad = lo if lo < 0 else hi
            raise IndexError(f"{op}: target class {bad} is out of range for {n_classes} "
                             "classes")
    return t.astype(np.intp, copy=False), axis, keep


def _nll(logp: Tensor, target: Any, reduction: str, ignore_index: int, op: str) -> Tensor:
    t, axis, keep = _class_targets(logp, target, ignore_index, op)
    picked = Gather.apply(logp, t, axis)
    if keep is None:
        return _reduce(-picked, reduction, op)
    loss = picked * (-keep.astype(logp.dtype))
    if reduction == "mean":
        return loss.sum() * (1.0 / keep.sum() if keep.any() else float("nan"))
    return _reduce(loss, reduction, op)


def nll_loss(input: Tensor, target: Any, reduction: str = "mean",
             ignore_index: int = -100) -> Tensor:
    """Negative log-likelihood of class ``target`` given log-probabilities ``input``
    of shape (N, C) (or (C,), or (N, C, d1, ...)); ``ignore_index`` targets add nothing."""
    _check_reduction(reduction, "nll_loss")
    input = _as_input(input, "nll_loss")
    return _nll(input, target, reduction, ignore_index, "nll_loss")


def cross_entropy(input: Tensor, target: Any, reduction: str = "mean",
                  ignore_index: int = -100) -> Tensor:
    """Cross-entropy from logits ``input`` (classes on axis 1, or axis 0 when 1-d).

    Integer targets are class indices (``ignore_index`` ones add nothing); float targets
    of the input's shape are class probabilities. Computed with ``log_softmax``, so
    large logits do not overflow.
    """
    _check_reduction(reduction, "cross_entropy")
    input = _as_input(input, "cross_entropy")
    axis = 1 if input.ndim >= 2 else 0
    logp = autograd.log_softmax(input, axis=axis)
    tkind = (target.dtype if isinstance(target, Tensor) else np.asarray(target).dtype).kind
    if tkind in "iub":
        if tkind == "b":
            raise TypeError("cross_entropy: bool targets are ambiguous; pass class indices "
                            "(integers) or probabilities (floats)")
        return _nll(logp, target, reduction, ignore_index, "cross_entropy")
    t = _as_target(target, input, "cross_entropy")
    loss = -(t * logp).sum(axis=axis)
    return _reduce(loss, reduction, "cross_entropy")


class BinaryCrossEntropy(Function):
    """-(t log p + (1 - t) log(1 - p)) with each log clamped at -100, as PyTorch does."""

    @staticmethod
    def forward(ctx: Any, p: np.ndarray, t: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            lp = np.maximum(np.log(p), -100.0)
            l1p = np.maximum(np.log1p(-p), -100.0)
        ctx.save_for_backward(p, t)
        return -(t * lp + (1 - t) * l1p)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        p, t = ctx.saved_tensors
        need = ctx.needs_input_grad
        gp = gt = None
        if need[0]:
            gp = g * (p - t) / autograd.clip(p * (1.0 - p), 1e-12, None)
        if need[1]:
            lp = autograd.clip(autograd.log(p), -100.0, None)
            l1p = autograd.clip(autograd.log(1.0 - p), -100.0, None)
            gt = g * (l1p - lp)
        return gp, gt


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities ``input`` in [0, 1] against ``target``; logs
    are clamped at -100 (PyTorch's convention) so p = 0 or 1 gives a finite loss.
    ``weight`` rescales each element (broadcast)."""
    _check_reduction(reduction, "binary_cross_entropy")
    input = _as_input(input, "binary_cross_entropy")
    d = input.data
    if d.size and (d.min() < 0 or d.max() > 1):
        raise ValueError("binary_cross_entropy: all elements of the input must be "
                         f"probabilities in [0, 1], got values in [{d.min()}, {d.max()}]; "
                         "for logits use binary_cross_entropy_with_logits")
    t = _as_target(target, input, "binary_cross_entropy")
    loss = BinaryCrossEntropy.apply(input, t)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None,
                                     reduction: str = "mean",
                                     pos_weight: Any = None) -> Tensor:
    """Binary cross-entropy of ``sigmoid(input)`` computed stably from logits:
    softplus(x) - x t, i.e. max(x, 0) - x t + log(1 + exp(-|x|)). ``pos_weight``
    multiplies the positive term (broadcast over the last axis), ``weight`` each element."""
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    input = _as_input(input, "binary_cross_entropy_with_logits")
    t = _as_target(target, input, "binary_cross_entropy_with_logits")
    if pos_weight is None:
        loss = autograd.softplus(input) - input * t
    else:
        pw = pos_weight if isinstance(pos_weight, Tensor) else np.asarray(
            pos_weight, dtype=input.dtype)
        loss = (1.0 - t) * input + (1.0 + (pw - 1.0) * t) * autograd.softplus(-input)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def kl_div(input: Tensor, target: Any, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """KL(target || q) pointwise with ``input`` = log q (PyTorch's convention):
    target * (log target - input), with 0 log 0 = 0; with ``log_target`` the target is
    given as log-probabilities: exp(target) * (target - input) (0 where target = -inf).
    ``reduction="batchmean"`` divides the sum by the batch size (the true KL divergence);
    ``"mean"`` divides by the number of elements, as PyTorch does."""
    allowed = (*_REDUCTIONS, "batchmean")
    _check_reduction(reduction, "kl_div", allowed)
    input = _as_input(input, "kl_div")
    t = _as_target(target, input, "kl_div")
    if log_target:
        finite = t.data > -np.inf
        if finite.all():
            loss = t.exp() * (t - input)
        else:  # zero-probability targets (log = -inf) contribute 0, not nan
            safe = autograd.where(finite, t, 0.0)
            loss = autograd.where(finite, safe.exp() * (safe - input), 0.0)
    elif not t.requires_grad:
        td = t.data
        with np.errstate(divide="ignore", invalid="ignore"):
            tlogt = np.where(td > 0, td * np.log(np.where(td > 0, td, 1)), 0).astype(td.dtype)
        loss = tlogt - t * input
    else:
        pos = t.data > 0
        safe = autograd.where(pos, t, 1.0)
        loss = t * autograd.log(safe) - t * input
    if reduction == "batchmean":
        n = input.shape[0] if input.ndim else 1
        return loss.sum() * (1.0 / n)
    return _reduce(loss, reduction, "kl_div")


def l1_penalty(parameters: Iterable[Tensor], strength: float = 1.0) -> Tensor:
    """``strength * sum(|p|)`` over all ``parameters``: add it to a loss for L1
    regularisation (its gradient is ``strength * sign(p)``)."""
    total = None
    for p in parameters:
        s = p.abs().sum()
        total = s if total is None else total + s
    if total is None:
        raise ValueError("l1_penalty: no parameters given")
    return total * strength


from .layers.conv import avg_pool2d, conv2d, max_pool2d  # noqa: E402, F401  (re-export)
from .layers.embedding import embedding  # noqa: E402, F401  (re-export)
