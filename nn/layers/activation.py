"""Activation modules, and ``Maxout``: a learnable piecewise-linear activation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import autograd

from .. import init
from ..functional import linear
from ..module import Module, Parameter


class Identity(Module):
    """Returns its input unchanged."""

    def forward(self, x: Any) -> Any:
        return x


class ReLU(Module):
    """max(x, 0)."""

    def forward(self, x: Any) -> Any:
        return autograd.relu(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, x: Any) -> Any:
        return autograd.sigmoid(x)


class Tanh(Module):
    """Hyperbolic tangent."""

    def forward(self, x: Any) -> Any:
        return autograd.tanh(x)


class LeakyReLU(Module):
    """x for x > 0, ``negative_slope * x`` otherwise."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: Any) -> Any:
        return autograd.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softmax(Module):
    """Softmax along ``axis`` (stable)."""

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = int(axis)

    def forward(self, x: Any) -> Any:
        return autograd.softmax(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Module):
    """Log-softmax along ``axis`` (stable)."""

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = int(axis)

    def forward(self, x: Any) -> Any:
        return autograd.log_softmax(x, axis=self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class Maxout(Module):
    """Maxout unit (Goodfellow et al., 2013): ``out_features`` outputs, each the max of
    ``pieces`` learned affine functions of the input, so the activation itself is learned.

    ``weight`` has shape ``(out_features * pieces, in_features)``: row ``j * pieces + k`` is
    piece ``k`` of output ``j``. Initialised like ``Linear``.
    """

    def __init__(self, in_features: int, out_features: int, pieces: int,
                 bias: bool = True, dtype: Any = None,
                 rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        if min(in_features, out_features, pieces) <= 0:
            raise ValueError(f"Maxout needs positive sizes, got in_features={in_features}, "
                             f"out_features={out_features}, pieces={pieces}")
        self.in_features, self.out_features, self.pieces = in_features, out_features, pieces
        dt = np.dtype(dtype) if dtype is not None else np.dtype(np.float32)
        rng = init.get_rng(rng)
        self.weight = Parameter(np.empty((out_features * pieces, in_features), dtype=dt))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)
        if bias:
            bound = 1.0 / math.sqrt(in_features)
            self.bias: Parameter | None = Parameter(np.empty(out_features * pieces, dtype=dt))
            init.uniform_(self.bias, -bound, bound, rng=rng)
        else:
            self.bias = None

    def forward(self, x: Any) -> Any:
        z = linear(x, self.weight, self.bias)
        z = z.reshape(*z.shape[:-1], self.out_features, self.pieces)
        return z.max(axis=-1)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"pieces={self.pieces}, bias={self.bias is not None}")
