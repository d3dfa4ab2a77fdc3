"""``Embedding``: a lookup table from integer tokens to learned vectors."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd.tensor import Tensor

from .. import init
from ..module import Module, Parameter


def embedding(indices: Any, weight: Tensor) -> Tensor:
    """Rows of ``weight`` (num, dim) picked by integer ``indices`` of any shape.

    The result has shape ``indices.shape + (dim,)``; the gradient of a row used several
    times is the sum over its uses.
    """
    idx = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    num = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(f"embedding: index {int(bad)} is out of range for a table of {num} "
                         f"rows (valid: 0..{num - 1})")
    return weight[idx]


class Embedding(Module):
    """``Embedding(num_embeddings, embedding_dim)``: ``weight`` (num, dim) drawn from
    N(0, 1) as in PyTorch; ``forward(indices)`` returns ``weight[indices]``."""

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype: Any = None,
                 rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        if num_embeddings <= 0 or embedding_dim <= 0:
            raise ValueError(f"Embedding needs positive sizes, got num_embeddings="
                             f"{num_embeddings}, embedding_dim={embedding_dim}")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        dt = np.dtype(dtype) if dtype is not None else np.dtype(np.float32)
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dt))
        init.normal_(self.weight, 0.0, 1.0, rng=init.get_rng(rng))

    def forward(self, indices: Any) -> Tensor:
        return embedding(indices, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"
