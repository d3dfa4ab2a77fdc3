"""Indexing: slices, integer arrays (repeated indices accumulate) and boolean masks."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function
from ..tensor import Tensor

TENSOR_METHODS = ()


def _normalize(index: Any) -> tuple[Any, bool]:
    """The index with Tensors and lists as arrays, and whether it is an advanced index."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    advanced = False
    for it in items:
        if isinstance(it, Tensor):
            it = it._data
        elif isinstance(it, list):
            it = np.asarray(it)
        if isinstance(it, np.ndarray):
            if it.dtype.kind not in "biu":
                raise IndexError(f"index arrays must be integer or bool, got dtype {it.dtype}")
            advanced = True
        out.append(it)
    return (tuple(out) if isinstance(index, tuple) else out[0]), advanced


class GetItem(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray, index: Any, advanced: bool) -> np.ndarray:
        ctx.in_shape = x.shape
        ctx.index = index
        ctx.advanced = advanced
        return x[index]

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        return ScatterAdd.apply(g, index=ctx.index, advanced=ctx.advanced, shape=ctx.in_shape)


class ScatterAdd(Function):
    """Zeros of ``shape`` with ``g`` added at ``index`` (repeats accumulate)."""

    @staticmethod
    def forward(ctx: Any, g: np.ndarray, index: Any, advanced: bool,
                shape: tuple) -> np.ndarray:
        ctx.index = index
        ctx.advanced = advanced
        out = np.zeros(shape, dtype=g.dtype)
        if advanced:
            np.add.at(out, index, g)
        else:
            out[index] = g
        return out

    @staticmethod
    def backward(ctx: Any, gg: Tensor) -> Tensor:
        return GetItem.apply(gg, index=ctx.index, advanced=ctx.advanced)


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]`` with numpy semantics; the gradient scatters back (and accumulates)."""
    index, advanced = _normalize(index)
    try:
        return GetItem.apply(x, index=index, advanced=advanced)
    except IndexError as exc:
        raise IndexError(f"index {index!r} into a tensor of shape {x.shape}: {exc}") from None
