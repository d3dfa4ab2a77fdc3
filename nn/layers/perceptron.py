"""Rosenblatt's perceptron: a linear threshold unit trained by the perceptron rule."""

from __future__ import annotations

from typing import Any

import numpy as np

from autograd.tensor import Tensor

from .. import init
from ..module import Module, Parameter


class Perceptron(Module):
    """One linear threshold unit: ``predict(x) = 1 if x . weight + bias > 0 else 0``.

    Trained with the classic perceptron learning rule (no gradients): for each sample in
    turn, ``w += lr * (y - y_hat) * x`` and ``b += lr * (y - y_hat)``. It converges on any
    linearly separable data (AND, OR, NAND) and never on data that is not (XOR).
    Weights start at zero unless ``rng`` is given (then small uniform values).
    """

    def __init__(self, in_features: int, dtype: Any = None,
                 rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        if in_features <= 0:
            raise ValueError(f"Perceptron needs in_features > 0, got {in_features}")
        self.in_features = int(in_features)
        dt = np.dtype(dtype) if dtype is not None else np.dtype(np.float32)
        self.weight = Parameter(np.zeros(in_features, dtype=dt))
        self.bias = Parameter(np.zeros((), dtype=dt))
        if rng is not None:
            init.uniform_(self.weight, -0.5, 0.5, rng=rng)

    def _check_x(self, X: Any) -> np.ndarray:
        X = np.asarray(X.data if isinstance(X, Tensor) else X)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.in_features:
            raise ValueError(f"Perceptron({self.in_features}): expected inputs of shape "
                             f"(n, {self.in_features}), got {X.shape}")
        return X

    def forward(self, x: Any) -> Tensor:
        """The 0/1 output (float) for each row of ``x``; the step has no gradient."""
        X = self._check_x(x)
        z = X @ self.weight.data + self.bias.data
        return Tensor((z > 0).astype(self.weight.dtype))

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels (0 or 1, int64) for each row of ``X``."""
        X = self._check_x(X)
        return (X @ self.weight.data + self.bias.data > 0).astype(np.int64)

    def fit(self, X: Any, y: Any, epochs: int = 100, lr: float = 1.0) -> list[int]:
        """Run the perceptron rule for up to ``epochs`` passes over ``(X, y)`` in order,
        continuing from the current weights, stopping after a pass without mistakes.
        Returns the number of mistakes in each pass."""
        X = self._check_x(X).astype(np.float64)
        y = np.asarray(y.data if isinstance(y, Tensor) else y).reshape(-1)
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"Perceptron.fit: {X.shape[0]} samples but {y.shape[0]} labels")
        if not np.isin(y, (0, 1)).all():
            raise ValueError("Perceptron.fit: labels must be 0 or 1, got "
                             f"{sorted(set(np.unique(y).tolist()) - {0, 1})[:5]}")
        w = self.weight.data.astype(np.float64)
        b = float(self.bias.data)
        mistakes = []
        for _ in range(int(epochs)):
            errors = 0
            for xi, yi in zip(X, y):
                err = yi - (1 if xi @ w + b > 0 else 0)
                if err:
                    w = w + lr * err * xi
                    b += lr * err
                    errors += 1
            mistakes.append(errors)
            if errors == 0:
                break
        self.weight.data = w.astype(self.weight.dtype)
        self.bias.data = np.asarray(b, dtype=self.bias.dtype)
        return mistakes

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}"
