"""chaingrad's autograd: numpy Tensors and scalar Values that record their graph."""

from . import functional, ops  # noqa: F401  (ops binds the operators of Tensor)
from .anomaly import detect_anomaly
from .engine import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .function import Function
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ops.elementwise import (
    abs,
    clip,
    cos,
    exp,
    leaky_relu,
    log,
    maximum,
    minimum,
    relu,
    sigmoid,
    sin,
    softplus,
    sqrt,
    tanh,
    where,
)
from .ops.linalg import matmul
from .ops.reduce import log_softmax, logsumexp, softmax
from .ops.shape import concatenate, pad, stack
from .tensor import (
    Tensor,
    arange,
    eye,
    full,
    get_default_dtype,
    grad,
    ones,
    ones_like,
    rand,
    randn,
    set_default_dtype,
    tensor,
    zeros,
    zeros_like,
)
from .value import Value
from .viz import draw_dot, draw_graph

__all__ = [
    "Tensor", "tensor", "zeros", "ones", "full", "zeros_like", "ones_like", "arange", "eye",
    "rand", "randn", "set_default_dtype", "get_default_dtype", "no_grad", "enable_grad",
    "is_grad_enabled", "set_grad_enabled", "grad", "Function", "Value", "exp", "log", "sqrt",
    "abs", "sin", "cos", "tanh", "sigmoid", "relu", "leaky_relu", "softplus", "clip",
    "maximum", "minimum", "where", "concatenate", "stack", "pad", "matmul", "softmax",
    "log_softmax", "logsumexp",
    "gradcheck", "gradgradcheck", "GradcheckError", "detect_anomaly",
    "draw_graph", "draw_dot",
]
