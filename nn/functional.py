"""Activations, dropout and losses as functions of Tensors (PyTorch's ``nn.functional``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd.function import Function
from autograd.tensor import Tensor


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
        return gx, gw, (g if len(need) > 2 and need[2] else None)


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
