"""``MLP``: a multi-layer perceptron of ``Linear`` layers with activations between."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import init
from ..module import Module, Sequential
from .activation import Identity, LeakyReLU, ReLU, Sigmoid, Tanh
from .dropout import Dropout
from .linear import Linear

ACTIVATIONS: dict[str, Callable[[], Module]] = {
    "relu": ReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "leaky_relu": LeakyReLU,
    "identity": Identity,
}


def _activation_factory(activation: Any) -> Callable[[], Module]:
    if isinstance(activation, str):
        try:
            return ACTIVATIONS[activation.lower()]
        except KeyError:
            raise ValueError(f"MLP: unknown activation {activation!r}; choose one of "
                             f"{sorted(ACTIVATIONS)} or pass a Module class") from None
    if activation is None:
        return Identity
    if isinstance(activation, Module):
        raise TypeError("MLP: pass the activation's class (or a function making one), not "
                        "an instance: each layer needs its own")
    if callable(activation):
        return activation
    raise TypeError(f"MLP: activation must be a name or a Module class, got {activation!r}")


class MLP(Sequential):
    """``MLP([784, 256, 10])``: Linear(784, 256), activation, [Dropout], Linear(256, 10).

    The activation follows every Linear layer but the last (the output is raw scores, ready
    for ``cross_entropy``); ``dropout > 0`` adds a Dropout after each hidden activation.
    ``activation`` is one of ``"relu", "tanh", "sigmoid", "leaky_relu", "identity"`` or a
    Module class. ``rng`` (Generator or seed) makes the initial weights reproducible.
    """

    def __init__(self, sizes: Sequence[int], activation: Any = "relu", dropout: float = 0.0,
                 bias: bool = True, dtype: Any = None,
                 rng: np.random.Generator | int | None = None) -> None:
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) <= 0:
            raise ValueError(f"MLP needs at least two positive sizes (in and out), got {sizes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout}")
        make_act = _activation_factory(activation)
        gen = init.get_rng(rng)
        layers: list[Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(n_in, n_out, bias=bias, dtype=dtype, rng=gen))
            if i < len(sizes) - 2:
                layers.append(make_act())
                if dropout > 0:
                    layers.append(Dropout(dropout, rng=None if rng is None else gen))
        super().__init__(*layers)
        self.sizes = sizes
