"""2-d convolution and pooling on NCHW tensors: autograd Functions, functional forms, modules.

Convolution is im2col plus one batched matmul. The im2col copy and its adjoint (col2im)
loop over the ``kh * kw`` kernel offsets, each step a strided whole-tensor copy, so no
Python loop ever runs over pixels, channels or the batch.

Every backward is made of other recorded Functions, so gradients of gradients work
(``create_graph=True``). Convolution is bilinear in (input, weight), and three Functions
close the family under differentiation:

- ``Conv2dFunction(x, w)``      -> y        (the convolution)
- ``Conv2dInputGrad(g, w)``     -> x-shaped (adjoint in x: a transposed convolution)
- ``Conv2dWeightGrad(x, g)``    -> w-shaped (adjoint in w: correlation of x with g)

each one's backward being two of the three. Pooling is linear in its input given the
window weights (1/count for average pooling, the argmax indicator for max pooling), so
``WindowGather`` and ``WindowScatter`` (adjoints of each other) are the backward of both.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from autograd.function import Function
from autograd.tensor import Tensor

from .. import init
from ..module import Module, Parameter

IntPair = int | tuple[int, int]


class _Geom(NamedTuple):
    """Kernel size, stride and padding of a window op (all per spatial axis)."""

    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int

    def out_hw(self, h: int, w: int) -> tuple[int, int]:
        return ((h + 2 * self.ph - self.kh) // self.sh + 1,
                (w + 2 * self.pw - self.kw) // self.sw + 1)


def _pair(v: Any, what: str, op: str, minimum: int) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        pair = (int(v), int(v))
    elif isinstance(v, (tuple, list)) and len(v) == 2 and all(
            isinstance(i, (int, np.integer)) for i in v):
        pair = (int(v[0]), int(v[1]))
    else:
        raise TypeError(f"{op}: {what} must be an int or a pair of ints, got {v!r}")
    if min(pair) < minimum:
        raise ValueError(f"{op}: {what} must be >= {minimum}, got {v!r}")
    return pair


def _geom(kernel_size: IntPair, stride: IntPair | None, padding: IntPair, op: str) -> _Geom:
    kh, kw = _pair(kernel_size, "kernel_size", op, 1)
    sh, sw = _pair(kernel_size if stride is None else stride, "stride", op, 1)
    ph, pw = _pair(padding, "padding", op, 0)
    return _Geom(kh, kw, sh, sw, ph, pw)


def _check_input(x: Any, op: str, channels: int | None = None) -> Tensor:
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.ndim != 4:
        want = f"(N, {channels}, H, W)" if channels is not None else "(N, C, H, W)"
        raise ValueError(f"{op}: expected a 4-d input {want}, got shape {x.shape}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{op}: expected input of shape (N, {channels}, H, W) with "
                         f"{channels} channels, got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be a floating tensor, got dtype {x.dtype}; "
                        "convert with .astype(np.float32)")
    return x


def _check_fits(shape: tuple, g: _Geom, op: str) -> None:
    h, w = shape[2] + 2 * g.ph, shape[3] + 2 * g.pw
    if h < g.kh or w < g.kw:
        raise ValueError(f"{op}: kernel {(g.kh, g.kw)} is larger than the padded input "
                         f"{(h, w)} (input shape {shape}, padding {(g.ph, g.pw)})")


# -- numpy kernels -----------------------------------------------------------------------
def _pad(x: np.ndarray, g: _Geom, value: float = 0.0) -> np.ndarray:
    if g.ph == 0 and g.pw == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (g.ph, g.ph), (g.pw, g.pw)), constant_values=value)


def _window(xp: np.ndarray, g: _Geom, i: int, j: int, ho: int, wo: int) -> np.ndarray:
    """The (N, C, ho, wo) strided view of padded ``xp`` seen by kernel offset (i, j)."""
    return xp[:, :, i:i + g.sh * (ho - 1) + 1:g.sh, j:j + g.sw * (wo - 1) + 1:g.sw]


def _im2col(x: np.ndarray, g: _Geom) -> np.ndarray:
    """(N, C, H, W) -> columns (N, C*kh*kw, ho*wo): each column one receptive field."""
    n, c, h, w = x.shape
    ho, wo = g.out_hw(h, w)
    xp = _pad(x, g)
    cols = np.empty((n, c, g.kh, g.kw, ho, wo), dtype=x.dtype)
    for i in range(g.kh):
        for j in range(g.kw):
            cols[:, :, i, j] = _window(xp, g, i, j, ho, wo)
    return cols.reshape(n, c * g.kh * g.kw, ho * wo)


def _col2im(cols: np.ndarray, shape: tuple, g: _Geom) -> np.ndarray:
    """Adjoint of :func:`_im2col`: add every column back onto the pixels it came from."""
    n, c, h, w = shape
    ho, wo = g.out_hw(h, w)
    cols = cols.reshape(n, c, g.kh, g.kw, ho, wo)
    xp = np.zeros((n, c, h + 2 * g.ph, w + 2 * g.pw), dtype=cols.dtype)
    for i in range(g.kh):
        for j in range(g.kw):
            _window(xp, g, i, j, ho, wo)[...] += cols[:, :, i, j]
    if g.ph == 0 and g.pw == 0:
        return xp
    return xp[:, :, g.ph:g.ph + h, g.pw:g.pw + w]


def _conv_forward(x: np.ndarray, w: np.ndarray, g: _Geom,
                  cols: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    n, _, h, wd = x.shape
    ho, wo = g.out_hw(h, wd)
    if cols is None:
        cols = _im2col(x, g)
    y = np.matmul(w.reshape(w.shape[0], -1), cols)
    return y.reshape(n, w.shape[0], ho, wo), cols


def _conv_input_grad(gy: np.ndarray, w: np.ndarray, in_shape: tuple, g: _Geom) -> np.ndarray:
    n, o = gy.shape[:2]
    dcols = np.matmul(w.reshape(o, -1).T, gy.reshape(n, o, -1))
    return _col2im(dcols, in_shape, g)


def _conv_weight_grad(x: np.ndarray, gy: np.ndarray, kernel: tuple, g: _Geom,
                      cols: np.ndarray | None = None) -> np.ndarray:
    n, o = gy.shape[:2]
    if cols is None:
        cols = _im2col(x, g)
    gw = np.matmul(gy.reshape(n, o, -1), cols.transpose(0, 2, 1)).sum(axis=0)
    return gw.reshape(o, x.shape[1], *kernel)


# -- convolution Functions ---------------------------------------------------------------
class Conv2dFunction(Function):
    """y = conv2d(x, w) + b: cross-correlation over NCHW, weight (out, in, kh, kw)."""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, w: np.ndarray, b: np.ndarray | None,
                geom: _Geom) -> np.ndarray:
        y, cols = _conv_forward(x, w, geom)
        if b is not None:
            y += b.reshape(-1, 1, 1).astype(y.dtype, copy=False)
        ctx.geom = geom
        need = ctx.needs_input_grad
        if need:
            # the columns are reused by the weight gradient; freed with the saved buffers
            ctx.save_for_backward(x, w, cols if need[1] else None)
        return y

    @staticmethod
    def backward(ctx: Any, gy: Tensor) -> tuple:
        x, w, cols = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad
        g = ctx.geom
        gx = Conv2dInputGrad.apply(gy, w, in_shape=x.shape, geom=g) if nx else None
        gw = None
        if nw:
            gw = Conv2dWeightGrad.apply(x, gy, kernel=w.shape[2:], geom=g,
                                        cols=None if cols is None else cols._data)
        gb = ChannelSum.apply(gy) if nb else None
        return gx, gw, gb


class ChannelSum(Function):
    """Sum of an NCHW array over all axes but the channels: the gradient of a conv bias.

    ``einsum`` reduces it as one contraction, about 3x faster than ``sum(axis=(0, 2, 3))``.
    """

    @staticmethod
    def forward(ctx: Any, g: np.ndarray) -> np.ndarray:
        ctx.in_shape = g.shape
        return np.einsum("nchw->c", g)

    @staticmethod
    def backward(ctx: Any, gb: Tensor) -> Tensor:
        return gb.reshape(1, -1, 1, 1).broadcast_to(ctx.in_shape)


class Conv2dInputGrad(Function):
    """The gradient of conv2d with respect to its input (a transposed convolution of g)."""

    @staticmethod
    def forward(ctx: Any, gy: np.ndarray, w: np.ndarray, in_shape: tuple,
                geom: _Geom) -> np.ndarray:
        ctx.geom = geom
        ctx.save_for_backward(gy, w)
        return _conv_input_grad(gy, w, in_shape, geom)

    @staticmethod
    def backward(ctx: Any, gz: Tensor) -> tuple:
        gy, w = ctx.saved_tensors
        ng, nw = ctx.needs_input_grad
        g = ctx.geom
        d_gy = Conv2dFunction.apply(gz, w, None, geom=g) if ng else None
        d_w = Conv2dWeightGrad.apply(gz, gy, kernel=w.shape[2:], geom=g) if nw else None
        return d_gy, d_w


class Conv2dWeightGrad(Function):
    """The gradient of conv2d with respect to its weight: x correlated with g."""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, gy: np.ndarray, kernel: tuple, geom: _Geom,
                cols: np.ndarray | None = None) -> np.ndarray:
        ctx.geom = geom
        ctx.save_for_backward(x, gy)
        return _conv_weight_grad(x, gy, kernel, geom, cols)

    @staticmethod
    def backward(ctx: Any, gv: Tensor) -> tuple:
        x, gy = ctx.saved_tensors
        nx, ng = ctx.needs_input_grad
        g = ctx.geom
        d_x = Conv2dInputGrad.apply(gy, gv, in_shape=x.shape, geom=g) if nx else None
        d_gy = Conv2dFunction.apply(x, gv, None, geom=g) if ng else None
        return d_x, d_gy


# -- pooling Functions -------------------------------------------------------------------
def _gather(x: np.ndarray, g: _Geom, weights: Any) -> np.ndarray:
    """out[n,c,i,j] = sum over the window of x_padded * weight (zero padding)."""
    n, c, h, w = x.shape
    ho, wo = g.out_hw(h, w)
    xp = _pad(x, g)
    scalar = np.ndim(weights) == 0
    out = np.zeros((n, c, ho, wo), dtype=x.dtype)
    k = 0
    for i in range(g.kh):
        for j in range(g.kw):
            win = _window(xp, g, i, j, ho, wo)
            out += win if scalar else win * weights[k]
            k += 1
    if scalar:
        out *= weights
    return out


def _scatter(gy: np.ndarray, in_shape: tuple, g: _Geom, weights: Any) -> np.ndarray:
    """Adjoint of :func:`_gather`: spread each output gradient over its window."""
    n, c, h, w = in_shape
    ho, wo = gy.shape[2:]
    xp = np.zeros((n, c, h + 2 * g.ph, w + 2 * g.pw), dtype=gy.dtype)
    scalar = np.ndim(weights) == 0
    if scalar:
        gy = gy * weights
    k = 0
    for i in range(g.kh):
        for j in range(g.kw):
            _window(xp, g, i, j, ho, wo)[...] += gy if scalar else gy * weights[k]
            k += 1
    if g.ph == 0 and g.pw == 0:
        return xp
    return xp[:, :, g.ph:g.ph + h, g.pw:g.pw + w]


class WindowGather(Function):
    """Weighted sum over each pooling window; weights are constants of the graph."""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, geom: _Geom, weights: Any) -> np.ndarray:
        ctx.geom = geom
        ctx.weights = weights
        ctx.in_shape = x.shape
        return _gather(x, geom, weights)

    @staticmethod
    def backward(ctx: Any, gy: Tensor) -> Tensor:
        return WindowScatter.apply(gy, in_shape=ctx.in_shape, geom=ctx.geom,
                                   weights=ctx.weights)


class WindowScatter(Function):
    """Spread each value over its pooling window, times the window weights."""

    @staticmethod
    def forward(ctx: Any, gy: np.ndarray, in_shape: tuple, geom: _Geom,
                weights: Any) -> np.ndarray:
        ctx.geom = geom
        ctx.weights = weights
        return _scatter(gy, in_shape, geom, weights)

    @staticmethod
    def backward(ctx: Any, gx: Tensor) -> Tensor:
        return WindowGather.apply(gx, geom=ctx.geom, weights=ctx.weights)


class MaxPool2dFunction(Function):
    """Max over each window; padding counts as -inf; ties share the gradient evenly."""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, geom: _Geom) -> np.ndarray:
        n, c, h, w = x.shape
        ho, wo = geom.out_hw(h, w)
        xp = _pad(x, geom, -np.inf)
        offsets = [(i, j) for i in range(geom.kh) for j in range(geom.kw)]
        out = _window(xp, geom, 0, 0, ho, wo).copy()
        for i, j in offsets[1:]:
            np.maximum(out, _window(xp, geom, i, j, ho, wo), out=out)
        if ctx.needs_input_grad:
            weights = np.empty((len(offsets), n, c, ho, wo), dtype=x.dtype)
            for k, (i, j) in enumerate(offsets):
                np.equal(_window(xp, geom, i, j, ho, wo), out, out=weights[k])
            count = weights.sum(axis=0)
            np.maximum(count, 1, out=count)  # a NaN window has no maximum to credit
            weights /= count
            ctx.geom = geom
            ctx.in_shape = x.shape
            ctx.save_for_backward(weights)
        return out

    @staticmethod
    def backward(ctx: Any, gy: Tensor) -> Tensor:
        (weights,) = ctx.saved_tensors
        return WindowScatter.apply(gy, in_shape=ctx.in_shape, geom=ctx.geom,
                                   weights=weights._data)


# -- functional forms --------------------------------------------------------------------
def conv2d(x: Any, weight: Tensor, bias: Tensor | None = None, stride: IntPair = 1,
           padding: IntPair = 0) -> Tensor:
    """2-d cross-correlation of NCHW ``x`` with ``weight`` (out, in, kh, kw), plus ``bias``.

    ``stride`` and ``padding`` (zeros) are ints or (h, w) pairs, as in PyTorch.
    """
    if not isinstance(weight, Tensor):
        weight = Tensor(weight)
    if weight.ndim != 4:
        raise ValueError(f"conv2d: weight must be 4-d (out_channels, in_channels, kh, kw), "
                         f"got shape {weight.shape}")
    o, c, kh, kw = weight.shape
    x = _check_input(x, "conv2d", c)
    if bias is not None:
        if not isinstance(bias, Tensor):
            bias = Tensor(bias)
        if bias.shape != (o,):
            raise ValueError(f"conv2d: bias must have shape ({o},) for {o} output channels, "
                             f"got shape {bias.shape}")
    g = _geom((kh, kw), stride, padding, "conv2d")
    _check_fits(x.shape, g, "conv2d")
    return Conv2dFunction.apply(x, weight, bias, geom=g)


def _pool_geom(x: Tensor, kernel_size: IntPair, stride: IntPair | None, padding: IntPair,
               op: str) -> _Geom:
    g = _geom(kernel_size, stride, padding, op)
    if 2 * g.ph > g.kh or 2 * g.pw > g.kw:
        raise ValueError(f"{op}: padding {(g.ph, g.pw)} must be at most half the kernel size "
                         f"{(g.kh, g.kw)}")
    _check_fits(x.shape, g, op)
    return g


def max_pool2d(x: Any, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0) -> Tensor:
    """Max over ``kernel_size`` windows of NCHW ``x`` (stride defaults to the kernel size).

    Padding counts as -inf (never the maximum); tied maxima share the gradient evenly.
    """
    x = _check_input(x, "max_pool2d")
    return MaxPool2dFunction.apply(x, geom=_pool_geom(x, kernel_size, stride, padding,
                                                      "max_pool2d"))


def avg_pool2d(x: Any, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0) -> Tensor:
    """Mean over ``kernel_size`` windows of NCHW ``x``; zero padding is counted in the mean
    (PyTorch's default ``count_include_pad=True``)."""
    x = _check_input(x, "avg_pool2d")
    g = _pool_geom(x, kernel_size, stride, padding, "avg_pool2d")
    return WindowGather.apply(x, geom=g, weights=np.asarray(1.0 / (g.kh * g.kw), x.dtype))


# -- modules -----------------------------------------------------------------------------
class Conv2d(Module):
    """2-d convolution layer on NCHW input, weight (out_channels, in_channels, kh, kw).

    Initialised like PyTorch: ``kaiming_uniform_(weight, a=sqrt(5))`` and bias, both
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels * kh * kw; pass ``rng`` (a
    Generator or seed) for reproducible weights.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair,
                 stride: IntPair = 1, padding: IntPair = 0, bias: bool = True,
                 dtype: Any = None, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        if in_channels <= 0 or out_channels <= 0:
            raise ValueError(f"Conv2d needs positive channel counts, got in_channels="
                             f"{in_channels}, out_channels={out_channels}")
        kh, kw = _pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = (kh, kw)
        self.stride = _pair(stride, "stride", "Conv2d", 1)
        self.padding = _pair(padding, "padding", "Conv2d", 0)
        dt = np.dtype(dtype) if dtype is not None else np.dtype(np.float32)
        rng = init.get_rng(rng)
        self.weight = Parameter(np.empty((self.out_channels, self.in_channels, kh, kw), dt))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=rng)
        if bias:
            bound = 1.0 / math.sqrt(self.in_channels * kh * kw)
            self.bias: Parameter | None = Parameter(np.empty(self.out_channels, dtype=dt))
            init.uniform_(self.bias, -bound, bound, rng=rng)
        else:
            self.bias = None

    def forward(self, x: Any) -> Tensor:
        x = _check_input(x, "Conv2d", self.in_channels)
        return conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.bias is None:
            s += ", bias=False"
        return s


class _Pool2d(Module):
    """Pooling over ``kernel_size`` windows (stride defaults to the kernel size)."""

    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None,
                 padding: IntPair = 0) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        _geom(kernel_size, stride, padding, type(self).__name__)

    def _pool(self, x: Any) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Any) -> Tensor:
        return self._pool(x)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max pooling (padding counts as -inf; tied maxima share the gradient evenly)."""

    def _pool(self, x: Any) -> Tensor:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """Average pooling, zero padding included in the mean."""

    def _pool(self, x: Any) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)
