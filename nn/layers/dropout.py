"""``Dropout`` (inverted) and ``Flatten``."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd.tensor import Tensor

from .. import init
from ..functional import dropout
from ..module import Module


class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability ``p`` and scale
    the survivors by 1/(1-p); in eval mode, the identity. ``rng``: a Generator or seed
    for reproducible masks (default: the shared generator of ``nn.init``)."""

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout probability must be in [0, 1], got {p}")
        self.p = float(p)
        self.rng = None if rng is None else init.get_rng(rng)

    def forward(self, x: Any) -> Any:
        return dropout(x, self.p, self.training, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Flatten(Module):
    """Flatten axes ``start_dim``..``end_dim`` into one (default: all but the batch axis)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x: Any) -> Any:
        if not isinstance(x, Tensor):
            x = Tensor(x)
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
