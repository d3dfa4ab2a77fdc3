"""Recurrent layers ``RNN`` and ``LSTM`` (and their one-step cells) on (batch, time, features).

The recurrence is built from engine ops (one matmul for all input projections, then per
step a matmul, an add, sigmoid/tanh and products; the split into steps and into gate
blocks are one slicing node each, whose backward is a stack / concatenate), so gradients
through time and gradients of gradients come from the engine with no hand-written
backward of the recurrence. Parameter
names, shapes, gate order (i, f, g, o) and initialisation follow PyTorch's
``num_layers=1`` layers; hidden states are shaped ``(1, batch, hidden)`` like PyTorch's.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import autograd
from autograd.function import Function
from autograd.tensor import Tensor

from .. import init
from ..functional import linear
from ..module import Module, Parameter

_ACTIVATIONS = {"tanh": autograd.tanh, "relu": autograd.relu}


class _Unbind(Function):
    """Every step ``x[:, t]`` of a (batch, time, ...) array as its own output.

    One node instead of ``time`` indexing ops: the backward stacks the step gradients
    once, where per-step indexing would scatter each into a zero array of the full
    sequence (quadratic in the sequence length).
    """

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> tuple:
        return tuple(x[:, t] for t in range(x.shape[1]))

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> Tensor:
        return autograd.stack(grads, axis=1)


class _Chunk(Function):
    """Split the last axis into ``n`` equal parts (the LSTM's four gate blocks)."""

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, n: int) -> tuple:
        k = x.shape[-1] // n
        return tuple(x[..., i * k:(i + 1) * k] for i in range(n))

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> Tensor:
        return autograd.concatenate(grads, axis=-1)


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _check_sequence(x: Any, input_size: int, batch_first: bool, op: str) -> tuple[Tensor, bool]:
    """The input as (batch, time, features), and whether it came without a batch axis."""
    x = _as_tensor(x)
    order = "(batch, time, {})" if batch_first else "(time, batch, {})"
    if x.ndim not in (2, 3):
        raise ValueError(f"{op}: expected input of shape {order.format('features')} (or "
                         f"(time, features) unbatched), got shape {x.shape}")
    if x.shape[-1] != input_size:
        raise ValueError(f"{op}: expected input of shape {order.format(input_size)} with "
                         f"{input_size} features, got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be a floating tensor, got dtype {x.dtype}")
    if x.size == 0:
        raise ValueError(f"{op}: the input is empty (shape {x.shape})")
    if x.ndim == 2:
        return x.unsqueeze(0), True
    if not batch_first:
        x = x.swapaxes(0, 1)
    return x, False


def _check_state(h: Any, batch: int, hidden: int, unbatched: bool, what: str,
                 op: str) -> Tensor:
    h = _as_tensor(h)
    want = (1, hidden) if unbatched else (1, batch, hidden)
    if h.shape != want:
        raise ValueError(f"{op}: expected {what} of shape {want} (layers, batch, hidden), "
                         f"got shape {h.shape}")
    return h if unbatched else h.reshape(batch, hidden)


def _finish(outs: list[Tensor], states: list[Tensor], unbatched: bool,
            batch_first: bool) -> tuple[Tensor, list[Tensor]]:
    out = autograd.stack(outs, axis=1)  # (batch, time, hidden)
    if unbatched:
        return out.reshape(out.shape[1:]), states
    if not batch_first:
        out = out.swapaxes(0, 1)
    return out, [s.unsqueeze(0) for s in states]


def _init_uniform(p: Parameter, hidden_size: int, rng: np.random.Generator) -> None:
    k = 1.0 / math.sqrt(hidden_size)
    init.uniform_(p, -k, k, rng=rng)


# -- functional forms ----------------------------------------------------------------------
def rnn(x: Any, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor | None = None,
        bias_hh: Tensor | None = None, hx: Any = None, nonlinearity: str = "tanh",
        batch_first: bool = True) -> tuple[Tensor, Tensor]:
    """Elman RNN ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` over a sequence.

    Returns ``(output, h_n)``: output (batch, time, hidden), h_n (1, batch, hidden).
    """
    if nonlinearity not in _ACTIVATIONS:
        raise ValueError(f"rnn: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    act = _ACTIVATIONS[nonlinearity]
    hidden = weight_hh.shape[1]
    x, unbatched = _check_sequence(x, weight_ih.shape[1], batch_first, "RNN")
    batch = x.shape[0]
    if hx is None:  # zeros, as in PyTorch: weight_hh then gets a (zero) gradient too
        h = Tensor(np.zeros((batch, hidden), weight_hh.dtype))
    else:
        h = _check_state(hx, batch, hidden, unbatched, "h0", "RNN")
    bias = _sum_biases(bias_ih, bias_hh)
    xw = linear(x, weight_ih, bias)  # every step's input projection in one matmul
    w_hh_t = weight_hh.T
    outs = []
    for xw_t in _Unbind.apply(xw):
        h = act(xw_t + h @ w_hh_t)
        outs.append(h)
    out, (h_n,) = _finish(outs, [h], unbatched, batch_first)
    return out, h_n


def lstm(x: Any, weight_ih: Tensor, weight_hh: Tensor, bias_ih: Tensor | None = None,
         bias_hh: Tensor | None = None, hx: Any = None,
         batch_first: bool = True) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """LSTM over a sequence with PyTorch's equations and gate order (i, f, g, o).

    Returns ``(output, (h_n, c_n))``: output (batch, time, hidden), h_n and c_n
    (1, batch, hidden). ``hx`` is an optional ``(h_0, c_0)`` pair of the same shape.
    """
    hidden = weight_hh.shape[1]
    x, unbatched = _check_sequence(x, weight_ih.shape[1], batch_first, "LSTM")
    batch = x.shape[0]
    if hx is None:
        h = c = Tensor(np.zeros((batch, hidden), weight_hh.dtype))
    else:
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError("LSTM: the initial state must be a pair (h_0, c_0)")
        h = _check_state(hx[0], batch, hidden, unbatched, "h_0", "LSTM")
        c = _check_state(hx[1], batch, hidden, unbatched, "c_0", "LSTM")
    bias = _sum_biases(bias_ih, bias_hh)
    xw = linear(x, weight_ih, bias)
    w_hh_t = weight_hh.T
    outs = []
    for xw_t in _Unbind.apply(xw):
        zi, zf, zg, zo = _Chunk.apply(xw_t + h @ w_hh_t, n=4)
        i, f, g, o = autograd.sigmoid(zi), autograd.sigmoid(zf), autograd.tanh(zg), \
            autograd.sigmoid(zo)
        c = f * c + i * g
        h = o * autograd.tanh(c)
        outs.append(h)
    out, (h_n, c_n) = _finish(outs, [h, c], unbatched, batch_first)
    return out, (h_n, c_n)


def _sum_biases(bias_ih: Tensor | None, bias_hh: Tensor | None) -> Tensor | None:
    if bias_ih is None:
        return bias_hh
    if bias_hh is None:
        return bias_ih
    return bias_ih + bias_hh


# -- modules ---------------------------------------------------------------------------------
class _RecurrentBase(Module):
    """Holds ``weight_ih (gates*H, I)``, ``weight_hh (gates*H, H)``, ``bias_ih``,
    ``bias_hh``, each initialised U(-1/sqrt(H), 1/sqrt(H)) as in PyTorch."""

    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 batch_first: bool = True, dtype: Any = None,
                 rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        name = type(self).__name__
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(f"{name} needs positive sizes, got input_size={input_size}, "
                             f"hidden_size={hidden_size}")
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.batch_first = bool(batch_first)
        dt = np.dtype(dtype) if dtype is not None else np.dtype(np.float32)
        rng = init.get_rng(rng)
        gh = self._gates * self.hidden_size
        self.weight_ih = Parameter(np.empty((gh, self.input_size), dt))
        self.weight_hh = Parameter(np.empty((gh, self.hidden_size), dt))
        self.bias_ih: Parameter | None = Parameter(np.empty(gh, dt)) if bias else None
        self.bias_hh: Parameter | None = Parameter(np.empty(gh, dt)) if bias else None
        for p in (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh):
            if p is not None:
                _init_uniform(p, self.hidden_size, rng)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias_ih is None:
            s += ", bias=False"
        if not self.batch_first:
            s += ", batch_first=False"
        return s


class RNN(_RecurrentBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu).

    ``forward(x, h0=None)`` with x (batch, time, input_size) returns ``(output, h_n)``:
    output (batch, time, hidden_size) holds every h_t, h_n (1, batch, hidden_size).
    """

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = True, dtype: Any = None,
                 rng: np.random.Generator | int | None = None) -> None:
        if nonlinearity not in _ACTIVATIONS:
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, batch_first, dtype, rng)
        self.nonlinearity = nonlinearity

    def forward(self, x: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        return rnn(x, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, hx,
                   self.nonlinearity, self.batch_first)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + f", nonlinearity={self.nonlinearity!r}"


class LSTM(_RecurrentBase):
    """Long short-term memory with PyTorch's gate order i, f, g, o::

        i, f, o = sigmoid(...), g = tanh(...)   (from x_t W_ih^T + b_ih + h W_hh^T + b_hh)
        c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)

    ``forward(x, (h0, c0)=None)`` returns ``(output, (h_n, c_n))`` with output
    (batch, time, hidden_size) and h_n, c_n of shape (1, batch, hidden_size).
    """

    _gates = 4

    def forward(self, x: Any, hx: Any = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        return lstm(x, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, hx,
                    self.batch_first)


class RNNCell(_RecurrentBase):
    """One RNN step: ``forward(x (batch, input_size), h=None) -> h'`` (batch, hidden_size)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", dtype: Any = None,
                 rng: np.random.Generator | int | None = None) -> None:
        if nonlinearity not in _ACTIVATIONS:
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got "
                             f"{nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, True, dtype, rng)
        self.nonlinearity = nonlinearity

    def forward(self, x: Any, hx: Any = None) -> Tensor:
        x = _check_step(x, self.input_size, "RNNCell")
        h0 = None if hx is None else _check_step_state(hx, x.shape[0], self.hidden_size,
                                                        "h", "RNNCell")
        out, _ = rnn(x.unsqueeze(1), self.weight_ih, self.weight_hh, self.bias_ih,
                     self.bias_hh, None if h0 is None else h0.unsqueeze(0), self.nonlinearity)
        return out[:, 0]


class LSTMCell(_RecurrentBase):
    """One LSTM step: ``forward(x (batch, input_size), (h, c)=None) -> (h', c')``."""

    _gates = 4

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 dtype: Any = None, rng: np.random.Generator | int | None = None) -> None:
        super().__init__(input_size, hidden_size, bias, True, dtype, rng)

    def forward(self, x: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        x = _check_step(x, self.input_size, "LSTMCell")
        state = None
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("LSTMCell: the state must be a pair (h, c)")
            state = tuple(_check_step_state(s, x.shape[0], self.hidden_size, n,
                                            "LSTMCell").unsqueeze(0)
                          for s, n in zip(hx, ("h", "c")))
        _, (h, c) = lstm(x.unsqueeze(1), self.weight_ih, self.weight_hh, self.bias_ih,
                         self.bias_hh, state)
        return h[0], c[0]


def _check_step(x: Any, input_size: int, op: str) -> Tensor:
    x = _as_tensor(x)
    if x.ndim != 2 or x.shape[1] != input_size:
        raise ValueError(f"{op}: expected input of shape (batch, {input_size}), got shape "
                         f"{x.shape}")
    return x


def _check_step_state(h: Any, batch: int, hidden: int, what: str, op: str) -> Tensor:
    h = _as_tensor(h)
    if h.shape != (batch, hidden):
        raise ValueError(f"{op}: expected {what} of shape ({batch}, {hidden}), got shape "
                         f"{h.shape}")
    return h
