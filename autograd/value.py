"""``Value``: micrograd's scalar autograd node, on the shared engine.

A Value holds a Python float and is its own graph vertex: its parents are the Values it
was computed from, and ``backward()`` hands it to the same engine that runs Tensor graphs
(iterative topological order, gradient accumulation with ``+``, hooks). As in micrograd,
every Value in the graph, not only the leaves, ends up with its ``.grad``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from . import engine
from .engine import RemovableHandle

Number = int | float


def _bw_add(v: Value, g: float) -> tuple:
    return g, g


def _bw_sub(v: Value, g: float) -> tuple:
    return g, -g


def _bw_mul(v: Value, g: float) -> tuple:
    a, b = v._prev
    return g * b.data, g * a.data


def _bw_div(v: Value, g: float) -> tuple:
    a, b = v._prev
    ga = g / b.data
    return ga, -ga * v.data


def _bw_pow(v: Value, g: float) -> tuple:
    (a,) = v._prev
    k = v._aux
    return (g * k * a.data ** (k - 1),)


def _bw_neg(v: Value, g: float) -> tuple:
    return (-g,)


def _bw_relu(v: Value, g: float) -> tuple:
    return (g if v.data > 0 else 0.0,)


def _bw_tanh(v: Value, g: float) -> tuple:
    t = v.data
    return (g * (1.0 - t * t),)


def _bw_exp(v: Value, g: float) -> tuple:
    return (g * v.data,)


def _bw_log(v: Value, g: float) -> tuple:
    return (g / v._prev[0].data,)


def _bw_sigmoid(v: Value, g: float) -> tuple:
    s = v.data
    return (g * s * (1.0 - s),)


_new = object.__new__


def _node(data: float, prev: tuple, op: str, bw: Callable) -> Value:
    v = _new(Value)
    v.data = data
    v.grad = 0.0
    v._prev = v._next = prev
    v._op = op
    v._bw = bw
    v._aux = None
    v.label = ""
    v._hooks = None
    return v


class Value:
    """A scalar that records the ops applied to it (micrograd-compatible)."""

    __slots__ = ("data", "grad", "_prev", "_next", "_op", "_bw", "_aux", "label", "_hooks",
                 "__weakref__")
    _nout = 1

    def __init__(self, data: Number, label: str = "", _children: tuple = (),
                 _op: str = "") -> None:
        if isinstance(data, Value):
            data = data.data
        self.data = float(data)
        self.grad = 0.0
        self._prev = self._next = tuple(_children)
        self._op = _op
        self._bw = None
        self._aux = None
        self.label = label
        self._hooks = None

    # -- arithmetic ------------------------------------------------------------------
    def __add__(self, other: Value | Number) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        return _node(self.data + other.data, (self, other), "+", _bw_add)

    def __radd__(self, other: Number) -> Value:
        return Value(other) + self

    def __sub__(self, other: Value | Number) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        return _node(self.data - other.data, (self, other), "-", _bw_sub)

    def __rsub__(self, other: Number) -> Value:
        return Value(other) - self

    def __mul__(self, other: Value | Number) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        return _node(self.data * other.data, (self, other), "*", _bw_mul)

    def __rmul__(self, other: Number) -> Value:
        return Value(other) * self

    def __truediv__(self, other: Value | Number) -> Value:
        other = other if isinstance(other, Value) else Value(other)
        return _node(self.data / other.data, (self, other), "/", _bw_div)

    def __rtruediv__(self, other: Number) -> Value:
        return Value(other) / self

    def __pow__(self, k: Number) -> Value:
        if not isinstance(k, (int, float)):
            raise TypeError(f"Value ** supports int/float exponents, got {type(k).__name__}")
        out = _node(self.data ** k, (self,), f"**{k}", _bw_pow)
        out._aux = k
        return out

    def __neg__(self) -> Value:
        return _node(-self.data, (self,), "neg", _bw_neg)

    # -- functions -------------------------------------------------------------------
    def relu(self) -> Value:
        return _node(self.data if self.data > 0 else 0.0, (self,), "ReLU", _bw_relu)

    def tanh(self) -> Value:
        return _node(math.tanh(self.data), (self,), "tanh", _bw_tanh)

    def exp(self) -> Value:
        return _node(math.exp(self.data), (self,), "exp", _bw_exp)

    def log(self) -> Value:
        return _node(math.log(self.data), (self,), "log", _bw_log)

    def sigmoid(self) -> Value:
        x = self.data
        s = 0.5 * (math.tanh(0.5 * x) + 1.0)
        return _node(s, (self,), "sigmoid", _bw_sigmoid)

    # -- autograd ------------------------------------------------------------------------
    def backward(self) -> None:
        """Fill ``.grad`` of every Value this one depends on with d(self)/d(value)."""
        engine.backward([self], [1.0])

    def register_hook(self, fn: Callable[[float], float | None]) -> RemovableHandle:
        """Call ``fn(grad)`` on this Value's total gradient; it may return a replacement."""
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(fn)
        return RemovableHandle(self._hooks, fn)

    def _receive(self, g: float, accumulate: bool) -> float:
        if self._hooks:
            for h in list(self._hooks):
                r = h(g)
                if r is not None:
                    g = r
        if not self._prev:  # inner Values add their gradient in _backprop
            self.grad += g
        return g

    def _backprop(self, g: float, retain_graph: bool, only: tuple | None = None) -> tuple:
        self.grad += g
        return self._bw(self, g)

    def __repr__(self) -> str:
        lab = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g}{lab})"
