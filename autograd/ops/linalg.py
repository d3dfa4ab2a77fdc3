"""Matrix products with numpy's matmul semantics (1-d, 2-d, batched)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function
from ..tensor import Tensor

TENSOR_METHODS = ("matmul",)


class MatMul(Function):
    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        a = np.asarray(a)
        b = np.asarray(b)
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: both operands need at least one dimension, got shapes "
                             f"{a.shape} and {b.shape}")
        ka = a.shape[-1]
        kb = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if ka != kb:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} do not align: {ka} (last dim of the "
                f"first) != {kb} ({'first' if b.ndim == 1 else 'second-to-last'} dim of the "
                "second)")
        ctx.save_for_backward(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        a1 = a if a.ndim > 1 else a.reshape(1, -1)
        b1 = b if b.ndim > 1 else b.reshape(-1, 1)
        g1 = g
        if a.ndim == 1:
            g1 = g1.unsqueeze(-2 if b.ndim > 1 else 0)
        if b.ndim == 1:
            g1 = g1.unsqueeze(-1)
        ga = gb = None
        if na:
            ga = g1 @ b1.swapaxes(-1, -2)
            if a.ndim == 1:
                ga = ga.squeeze(-2)
        if nb:
            gb = a1.swapaxes(-1, -2) @ g1
            if b.ndim == 1:
                gb = gb.squeeze(-1)
        return ga, gb


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with numpy semantics; a shape mismatch names both shapes."""
    return MatMul.apply(a, b)
