"""Layers: each a ``Module``."""
# ruff: noqa: F401  (this file is the list of public names)

from .activation import Identity, LeakyReLU, LogSoftmax, Maxout, ReLU, Sigmoid, Softmax, Tanh
from .dropout import Dropout, Flatten
from .linear import Linear
from .mlp import MLP
from .perceptron import Perceptron
