"""The op set, one module per family; each op's forward and backward side by side."""

from .. import tensor as _tensor
from . import elementwise, index, linalg, reduce, shape

_tensor.install_ops([elementwise, reduce, shape, index, linalg])
