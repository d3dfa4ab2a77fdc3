"""Layers: each a ``Module``."""
# ruff: noqa: F401  (this file is the list of public names)

from .linear import Linear
