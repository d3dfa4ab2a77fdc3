"""Weight initialisation schemes with PyTorch's formulas (Glorot/Xavier, He/Kaiming).

Each ``*_`` function fills a tensor and returns it. The tensor gets a new array (its
``.data`` is assigned, never written into), so graphs recorded before stay valid. Random
schemes take ``rng``: a ``np.random.Generator``, an int seed, or None for the module's
default generator (seeded with :func:`manual_seed`).
"""

from __future__ import annotations

import math

import numpy as np

from autograd.tensor import Tensor

_default_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Re-seed the default generator used when no ``rng`` is given (init and dropout)."""
    global _default_rng
    _default_rng = np.random.default_rng(seed)


def get_rng(rng: np.random.Generator | int | None = None) -> np.random.Generator:
    """``rng`` as a Generator: itself, a new one seeded with an int, or the default."""
    if rng is None:
        return _default_rng
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table)."""
    linear = ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
              "conv_transpose2d", "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def calculate_fan_in_and_fan_out(t: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of shape ``(out, in, *kernel)``."""
    if t.ndim < 2:
        raise ValueError(
            f"fan in and fan out need a tensor with at least 2 dimensions, got shape {t.shape}"
        )
    receptive = math.prod(t.shape[2:])
    return t.shape[1] * receptive, t.shape[0] * receptive


def _fan(t: Tensor, mode: str) -> int:
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    if mode == "fan_in":
        return fan_in
    if mode == "fan_out":
        return fan_out
    raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")


def _fill(t: Tensor, arr: np.ndarray) -> Tensor:
    t.data = arr.astype(t.dtype, copy=False)
    return t


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0,
             rng: np.random.Generator | int | None = None) -> Tensor:
    """Fill with samples from U(a, b)."""
    return _fill(t, get_rng(rng).uniform(a, b, size=t.shape))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0,
            rng: np.random.Generator | int | None = None) -> Tensor:
    """Fill with samples from N(mean, std^2)."""
    return _fill(t, get_rng(rng).normal(mean, std, size=t.shape))


def constant_(t: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    return _fill(t, np.full(t.shape, val, dtype=t.dtype))


def zeros_(t: Tensor) -> Tensor:
    """Fill with zeros."""
    return _fill(t, np.zeros(t.shape, dtype=t.dtype))


def ones_(t: Tensor) -> Tensor:
    """Fill with ones."""
    return _fill(t, np.ones(t.shape, dtype=t.dtype))


def xavier_uniform_(t: Tensor, gain: float = 1.0,
                    rng: np.random.Generator | int | None = None) -> Tensor:
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -a, a, rng)


def xavier_normal_(t: Tensor, gain: float = 1.0,
                   rng: np.random.Generator | int | None = None) -> Tensor:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng)


def kaiming_uniform_(t: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     rng: np.random.Generator | int | None = None) -> Tensor:
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan); ``a`` is the leaky slope."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(t, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(t, -bound, bound, rng)


def kaiming_normal_(t: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    rng: np.random.Generator | int | None = None) -> Tensor:
    """He normal: N(0, std^2) with std = gain / sqrt(fan); ``a`` is the leaky slope."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(t, mode))
    return normal_(t, 0.0, std, rng)


__all__ = [
    "manual_seed", "get_rng", "calculate_gain", "calculate_fan_in_and_fan_out", "uniform_",
    "normal_", "constant_", "zeros_", "ones_", "xavier_uniform_", "xavier_normal_",
    "kaiming_uniform_", "kaiming_normal_",
]
