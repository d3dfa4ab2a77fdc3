"""Elementwise ops: arithmetic with broadcasting, unary math, activations, where/max/min.

Each op's forward (numpy) and backward (Tensor ops) stand side by side. Backwards never
undo broadcasting themselves: ``Function`` reduces every gradient to its input's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function
from ..tensor import Tensor

TENSOR_METHODS = ("exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu",
                  "leaky_relu", "softplus", "clip", "maximum", "minimum", "pow")


def _nz(val: Tensor, g: Tensor) -> Tensor:
    """``val`` where ``g`` is non-zero, else 0: a zero upstream gradient stays zero even
    where the local derivative is infinite (log or sqrt at 0, the untaken side of where)."""
    return MaskZero.apply(val, g)


class MaskZero(Function):
    @staticmethod
    def forward(ctx: Any, val: np.ndarray, g: np.ndarray) -> np.ndarray:
        mask = g != 0
        ctx.save_for_backward(mask)
        return np.where(mask, val, 0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple:
        (mask,) = ctx.saved_tensors
        return grad * mask._data, None


# -- arithmetic ----------------------------------------------------------------------------
class Add(Function):
    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        return a + b

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        return g, g


class Sub(Function):
    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        return a - b

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        return (g * b if na else None), (g * a if nb else None)


class Div(Function):
    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        out = a / b
        ctx.save_for_backward(b, out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        b, out = ctx.saved_tensors
        ga = _nz(g / b, g)
        return (ga if ctx.needs_input_grad[0] else None), (
            _nz(-ga * out, g) if ctx.needs_input_grad[1] else None)


class Neg(Function):
    @staticmethod
    def forward(ctx: Any, a: np.ndarray) -> np.ndarray:
        return -a

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        return -g


class Pow(Function):
    """``a ** b`` for tensors or numbers on either side."""

    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        out = np.power(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        a, b, out = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            if isinstance(b, (int, float)):
                if b == 0:
                    ga = g * 0.0
                elif b == 1:
                    ga = g
                elif b == 2:
                    ga = g * a * 2.0
                else:
                    ga = g * b * a ** (b - 1)
                    if b < 1:
                        ga = _nz(ga, g)
            else:
                ga = _nz(g * b * a ** (b - 1), g)
        if nb:
            a_t = a if isinstance(a, Tensor) else Tensor(np.asarray(a, dtype=out.dtype))
            safe_a = where(a_t._data > 0, a_t, 1.0)
            gb = g * out * log(safe_a)
        return ga, gb


def pow(a: Any, b: Any) -> Tensor:
    """``a ** b`` elementwise."""
    return Pow.apply(a, b)


# -- unary math ----------------------------------------------------------------------------
class Exp(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        out = np.exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        (out,) = ctx.saved_tensors
        return g * out


class Log(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return _nz(g / x, g)


class Sqrt(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        out = np.sqrt(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        (out,) = ctx.saved_tensors
        return _nz(g * 0.5 / out, g)


class Abs(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return g * np.sign(x._data)


class Sin(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return g * cos(x)


class Cos(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return np.cos(x)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return -g * sin(x)


class Tanh(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        out = np.tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        (out,) = ctx.saved_tensors
        return g * (1.0 - out * out)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        out = np.tanh(x * 0.5)  # 1/(1+e^-x) without overflow for large |x|
        out += 1.0
        out *= 0.5
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        (out,) = ctx.saved_tensors
        return g * (out * (1.0 - out))


class Relu(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        out = np.maximum(x, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        (out,) = ctx.saved_tensors
        return g * (out._data > 0)


class LeakyRelu(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray, slope: float = 0.01) -> np.ndarray:
        ctx.save_for_backward(x)
        ctx.slope = slope
        return np.where(x > 0, x, x * slope)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        xd = x._data
        return g * np.where(xd > 0, 1.0, ctx.slope).astype(xd.dtype)


class Softplus(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        ctx.save_for_backward(x)
        return np.logaddexp(0, x)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        return g * sigmoid(x)


class Clip(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray, lo: float | None = None,
                hi: float | None = None) -> np.ndarray:
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return np.clip(x, lo, hi)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        (x,) = ctx.saved_tensors
        xd = x._data
        inside = np.ones(xd.shape, bool)
        if ctx.lo is not None:
            inside &= xd >= ctx.lo
        if ctx.hi is not None:
            inside &= xd <= ctx.hi
        return g * inside


class Cast(Function):
    @staticmethod
    def forward(ctx: Any, x: np.ndarray, dtype: np.dtype) -> np.ndarray:
        ctx.in_dtype = x.dtype
        return x.astype(dtype, copy=False)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor:
        return g.astype(ctx.in_dtype)


# -- choices -------------------------------------------------------------------------------
def _raw(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def _split_mask(a: Any, b: Any, first: np.ndarray) -> np.ndarray:
    """Weight of ``a`` in max/min: 1 where it wins, 1/2 on ties, 0 where it loses."""
    a, b = _raw(a), _raw(b)
    dtype = np.result_type(a, b) if np.result_type(a, b).kind == "f" else np.float64
    return (first + 0.5 * (a == b)).astype(dtype)


class Maximum(Function):
    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        a, b = ctx.saved_tensors
        w = _split_mask(a, b, _raw(a) > _raw(b))
        return g * w, g * (1.0 - w)


class Minimum(Function):
    @staticmethod
    def forward(ctx: Any, a: Any, b: Any) -> np.ndarray:
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        a, b = ctx.saved_tensors
        w = _split_mask(a, b, _raw(a) < _raw(b))
        return g * w, g * (1.0 - w)


class Where(Function):
    @staticmethod
    def forward(ctx: Any, cond: Any, a: Any, b: Any) -> np.ndarray:
        cond = np.asarray(cond, dtype=bool)
        ctx.save_for_backward(cond)
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple:
        (cond,) = ctx.saved_tensors
        c = cond._data
        _, na, nb = ctx.needs_input_grad
        return (None, where(c, g, 0.0) if na else None, where(c, 0.0, g) if nb else None)


# -- public functions (also Tensor methods) --------------------------------------------
def exp(x: Any) -> Tensor:
    """e**x elementwise."""
    return Exp.apply(x)


def log(x: Any) -> Tensor:
    """Natural logarithm elementwise."""
    return Log.apply(x)


def sqrt(x: Any) -> Tensor:
    return Sqrt.apply(x)


def abs(x: Any) -> Tensor:  # noqa: A001 - the public name of the op
    """|x|; the gradient at 0 is 0."""
    return Abs.apply(x)


def sin(x: Any) -> Tensor:
    return Sin.apply(x)


def cos(x: Any) -> Tensor:
    return Cos.apply(x)


def tanh(x: Any) -> Tensor:
    return Tanh.apply(x)


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + e**-x), stable for large |x|."""
    return Sigmoid.apply(x)


def relu(x: Any) -> Tensor:
    """max(x, 0); the gradient at 0 is 0."""
    return Relu.apply(x)


def leaky_relu(x: Any, slope: float = 0.01) -> Tensor:
    """x where x > 0, else slope * x."""
    return LeakyRelu.apply(x, slope=slope)


def softplus(x: Any) -> Tensor:
    """log(1 + e**x), stable for large |x|."""
    return Softplus.apply(x)


def clip(x: Any, lo: float | None = None, hi: float | None = None) -> Tensor:
    """Limit values to [lo, hi]; the gradient passes where lo <= x <= hi."""
    return Clip.apply(x, lo=lo, hi=hi)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise max with broadcasting; ties share the gradient evenly."""
    return Maximum.apply(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise min with broadcasting; ties share the gradient evenly."""
    return Minimum.apply(a, b)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``cond`` is true, else ``b`` (cond gets no gradient)."""
    if isinstance(cond, Tensor):
        cond = cond._data
    return Where.apply(cond, a, b)
