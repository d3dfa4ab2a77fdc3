"""chaingrad's neural-network layer: modules, layers, losses, optimizers, init."""
# ruff: noqa: F401  (this file is the list of public names)

from . import functional, init
from .layers import Linear
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
