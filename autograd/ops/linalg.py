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
            ga = MatMulT.apply(g1, b1, tb=True)
            if a.ndim == 1:
                ga = ga.squeeze(-2)
        if nb:
            gb = MatMulT.apply(a1, g1, ta=True)
            if b.ndim == 1:
                gb = gb.squeeze(-1)
        return ga, gb


def _t(x: np.ndarray, flag: bool) -> np.ndarray:
    return x.swapaxes(-1, -2) if flag else x


class MatMulT(Function):
    """``op(a) @ op(b)``, where ``op`` swaps the last two axes when ``ta``/``tb`` is set:
    the products a matmul's backward needs, with no separate transpose ops. Its own
    backward is made of the same op, so derivatives of any order stay matrix products."""

    @staticmethod
    def forward(ctx: Any, a: np.ndarray, b: np.ndarray, ta: bool = False,
                tb: bool = False) -> np.ndarray:
        ctx.save_for_backward(a, b)
        ctx.ta, ctx.tb = ta, tb
        return np.matmul(_t(a, ta), _t(b, tb))

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        a, b = ctx.saved_tensors
        ta, tb = ctx.ta, ctx.tb
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:  # d op(a) = g @ op(b)^T
            ga = (MatMulT.apply(b, g, ta=tb, tb=True) if ta
                  else MatMulT.apply(g, b, tb=not tb))
        if nb:  # d op(b) = op(a)^T @ g
            gb = (MatMulT.apply(g, a, ta=True, tb=ta) if tb
                  else MatMulT.apply(a, g, ta=not ta))
        return ga, gb


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with numpy semantics; a shape mismatch names both shapes."""
    return MatMul.apply(a, b)
