"""``Tensor``: a numpy array that remembers how it was computed.

Storage, properties, conversions and operators live here; every operator calls an op from
``autograd.ops`` (a :class:`~autograd.function.Function`), which records the graph.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from . import engine
from .engine import RemovableHandle, grad_mode

_default_dtype: type = np.float32
_refcount = sys.getrefcount
_new = object.__new__
_ndarray = np.ndarray


def set_default_dtype(dtype: Any) -> None:
    """Set the float dtype that Python floats and lists become (float32 or float64)."""
    global _default_dtype
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"the default dtype must be a floating dtype, got {dt}")
    _default_dtype = dt.type


def get_default_dtype() -> type:
    """The float dtype that Python floats and lists become."""
    return _default_dtype


def _as_array(data: Any, dtype: Any = None) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data._data
    if dtype is not None:
        arr = np.asarray(data, dtype=dtype)
    elif type(data) is _ndarray:
        arr = data
    elif isinstance(data, np.generic):
        arr = np.asarray(data)
    else:
        arr = np.asarray(data)
        if arr.dtype.kind == "f" and arr.dtype != _default_dtype:
            arr = arr.astype(_default_dtype)
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"Tensor: unsupported data of dtype {arr.dtype} ({type(data).__name__})")
    return arr


def _make(data: np.ndarray, grad_fn: Any, requires_grad: bool) -> Tensor:
    """Create a Tensor around an array without validation (the hot path of every op)."""
    t = _new(Tensor)
    t._data = data
    t._rg = requires_grad
    t.grad = None
    t.grad_fn = grad_fn
    t.name = None
    t._oidx = None
    t._hooks = None
    t._version = 0
    return t


class Tensor:
    """An n-d array (numpy-backed) that records the ops applied to it.

    ``Tensor(data, requires_grad=False, dtype=None, name=None)``. Python floats and lists
    take the default float dtype (float32); numpy arrays keep their dtype and are used
    without a copy; integer and bool tensors cannot require grad.
    """

    __slots__ = ("_data", "_rg", "grad", "grad_fn", "name", "_oidx", "_hooks", "_version",
                 "__weakref__")
    __array_ufunc__ = None  # numpy defers to our reflected operators: arr + t is a Tensor
    __array_priority__ = 1000

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        dtype: Any = None,
        name: str | None = None,
    ) -> None:
        self._data = _as_array(data, dtype)
        self._rg = False
        self.grad = None
        self.grad_fn = None
        self.name = name
        self._oidx = None
        self._hooks = None
        self._version = 0
        if requires_grad:
            self.requires_grad = True

    # -- storage and properties ------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """The underlying numpy array."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        arr = _as_array(value)
        if self._rg and arr.dtype.kind != "f":
            raise TypeError(f"cannot set data of dtype {arr.dtype} on a tensor that requires grad")
        self._data = arr
        self._version += 1

    @property
    def requires_grad(self) -> bool:
        """Whether gradients flow to this tensor."""
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        value = bool(value)
        if value and self._data.dtype.kind != "f":
            raise TypeError(
                f"only floating point tensors can require gradients, got dtype "
                f"{self._data.dtype}; convert with .astype(np.float32) first"
            )
        if not value and self.grad_fn is not None:
            raise RuntimeError(
                "requires_grad can only be switched off on leaf tensors; use .detach()"
            )
        self._rg = value

    def requires_grad_(self, value: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return self."""
        self.requires_grad = value
        return self

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user rather than by an op."""
        return self.grad_fn is None

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def T(self) -> Tensor:
        """The tensor with its axes reversed."""
        return self.transpose()

    # -- conversion ------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The data as a numpy array (shares memory)."""
        return self._data

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(
                f"item(): tensor of shape {self.shape} has {self.size} elements, not 1")
        return self._data.item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def detach(self) -> Tensor:
        """A tensor sharing the data but cut from the graph."""
        return _make(self._data, None, False)

    def astype(self, dtype: Any) -> Tensor:
        """Cast to ``dtype``; between float dtypes the gradient flows back (cast back)."""
        return _Cast.apply(self, dtype=np.dtype(dtype))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if dtype is not None and np.dtype(dtype) != self._data.dtype:
            return self._data.astype(dtype)
        return self._data.copy() if copy else self._data

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; use "
                ".any() or .all() on its data"
            )
        return bool(self._data)

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="Tensor(", precision=4,
                               threshold=50)
        extras = []
        if self._data.dtype != _default_dtype and self._data.dtype.kind == "f":
            extras.append(f"dtype={self._data.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self._rg:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return f"Tensor({body}{', ' if extras else ''}{', '.join(extras)})"

    # -- autograd ----------------------------------------------------------------------
    def backward(
        self,
        grad: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad."""
        run_backward([self], None if grad is None else [grad], retain_graph, create_graph)

    def register_hook(self, fn: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``fn(grad)`` when this tensor's gradient is computed; it may return a
        replacement gradient."""
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self.grad_fn is not None:
            return self.grad_fn.register_hook(fn, self._oidx or 0)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(fn)
        return RemovableHandle(self._hooks, fn)

    def retain_grad(self) -> None:
        """Keep the gradient of this non-leaf tensor in ``.grad`` after backward."""
        if self.grad_fn is None:
            return
        ref = weakref.ref(self)

        def keep(g: Tensor) -> None:
            t = ref()
            if t is not None:
                t.grad = g.detach() if t.grad is None else _make(t.grad._data + g._data, None,
                                                                 False)

        self.grad_fn.register_hook(keep, self._oidx or 0)

    # vertex protocol for leaves (see engine.py)
    _next: tuple = ()
    _nout = 1

    def _receive(self, grad: Tensor, accumulate: bool) -> Tensor:
        hooks = self._hooks
        if hooks:
            for h in list(hooks):
                r = h(grad)
                if r is not None:
                    grad = r
        if accumulate:
            old = self.grad
            if grad_mode.enabled:  # building a graph of the gradient
                self.grad = grad if old is None else old + grad
            elif old is None:
                gd = grad._data
                # adopt a freshly computed array that nothing else refers to (its tensor,
                # this name and getrefcount's argument); copy anything that may be shared
                # (a view, a user's array, a gradient handed to several inputs)
                if not (gd.flags.owndata and gd.flags.writeable and _refcount(gd) <= 3):
                    gd = gd.copy()
                self.grad = _make(gd, None, False)
            elif (old._data.shape == grad._data.shape and not old._rg
                  and old._data.flags.writeable):
                np.add(old._data, grad._data, out=old._data, casting="unsafe")
            else:
                self.grad = _make(old._data + grad._data, None, False)
        return grad

    # -- operators ---------------------------------------------------------------------
    # When nothing is recorded (inside backward, under no_grad) the arithmetic operators
    # compute directly on the arrays; anything unusual (a shape error, anomaly mode) goes
    # through the op, which gives the full error message and checks.
    def __add__(self, other: Any) -> Tensor:
        if not (grad_mode.enabled or grad_mode.anomaly):
            o = _operand(other)
            try:
                r = self._data + o
            except ValueError:
                return _add(self, other)
            return _make(r if type(r) is _ndarray else np.asarray(r), None, False)
        return _add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        if not (grad_mode.enabled or grad_mode.anomaly):
            o = _operand(other)
            try:
                r = o + self._data
            except ValueError:
                return _add(other, self)
            return _make(r if type(r) is _ndarray else np.asarray(r), None, False)
        return _add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        if not (grad_mode.enabled or grad_mode.anomaly):
            o = _operand(other)
            try:
                r = self._data - o
            except ValueError:
                return _sub(self, other)
            return _make(r if type(r) is _ndarray else np.asarray(r), None, False)
        return _sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        if not (grad_mode.enabled or grad_mode.anomaly):
            o = _operand(other)
            try:
                r = o - self._data
            except ValueError:
                return _sub(other, self)
            return _make(r if type(r) is _ndarray else np.asarray(r), None, False)
        return _sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        if not (grad_mode.enabled or grad_mode.anomaly):
            o = _operand(other)
            try:
                r = self._data * o
            except ValueError:
                return _mul(self, other)
            return _make(r if type(r) is _ndarray else np.asarray(r), None, False)
        return _mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        if not (grad_mode.enabled or grad_mode.anomaly):
            o = _operand(other)
            try:
                r = o * self._data
            except ValueError:
                return _mul(other, self)
            return _make(r if type(r) is _ndarray else np.asarray(r), None, False)
        return _mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        if not (grad_mode.enabled or grad_mode.anomaly):
            o = _operand(other)
            try:
                r = self._data / o
            except ValueError:
                return _div(self, other)
            return _make(r if type(r) is _ndarray else np.asarray(r), None, False)
        return _div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        if not (grad_mode.enabled or grad_mode.anomaly):
            o = _operand(other)
            try:
                r = o / self._data
            except ValueError:
                return _div(other, self)
            return _make(r if type(r) is _ndarray else np.asarray(r), None, False)
        return _div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _pow(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _matmul(other, self)

    def __neg__(self) -> Tensor:
        if not (grad_mode.enabled or grad_mode.anomaly):
            r = -self._data
            return _make(r if type(r) is _ndarray else np.asarray(r), None, False)
        return _neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return self.abs()

    def __getitem__(self, index: Any) -> Tensor:
        return _getitem(self, index)

    # comparisons: bool tensors, outside the graph
    def __lt__(self, other: Any) -> Tensor:
        return _make(np.asarray(self._data < _raw(other)), None, False)

    def __le__(self, other: Any) -> Tensor:
        return _make(np.asarray(self._data <= _raw(other)), None, False)

    def __gt__(self, other: Any) -> Tensor:
        return _make(np.asarray(self._data > _raw(other)), None, False)

    def __ge__(self, other: Any) -> Tensor:
        return _make(np.asarray(self._data >= _raw(other)), None, False)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _make(np.asarray(self._data == _raw(other)), None, False)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _make(np.asarray(self._data != _raw(other)), None, False)


def _raw(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def _operand(x: Any) -> Any:
    """The array (or Python number) an operator computes with; numpy scalars act like
    Python numbers so they do not change the result's dtype."""
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, np.generic):
        return x.item()
    return x


def _seed_for(t: Tensor, grad: Any) -> Tensor:
    if grad is None:
        if t._data.size != 1:
            raise RuntimeError(
                f"backward() without a gradient needs a one-element output, but this tensor "
                f"has shape {t.shape}; pass grad= (a tensor of shape {t.shape}, e.g. "
                "ones_like(out)) or reduce it first, e.g. out.sum().backward()"
            )
        return _make(np.ones_like(t._data), None, False)
    g = grad if isinstance(grad, Tensor) else Tensor(np.asarray(grad, dtype=t._data.dtype))
    if g.shape != t.shape:
        raise RuntimeError(
            f"backward(): the gradient has shape {g.shape} but the output has shape {t.shape}"
        )
    return g


def _key(t: Tensor) -> Any:
    gf = t.grad_fn
    if gf is None:
        return t
    return gf if t._oidx is None else (gf, t._oidx)


def run_backward(
    tensors: Sequence[Tensor],
    grads: Sequence[Any] | None,
    retain_graph: bool | None,
    create_graph: bool,
    inputs: Sequence[Tensor] | None = None,
) -> list[Any] | None:
    """Seed and run the engine for Tensor outputs (``backward`` and ``grad`` share it)."""
    if retain_graph is None:
        retain_graph = create_graph
    seeds = []
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"backward: output {i} is a {type(t).__name__}, not a Tensor")
        if not t._rg:
            raise RuntimeError(
                f"output {i} (shape {t.shape}) does not require grad and has no grad_fn: "
                "nothing it depends on has requires_grad=True, or it was computed under "
                "no_grad()"
            )
        seeds.append(_seed_for(t, None if grads is None else grads[i]))
    capture = None if inputs is None else [_key(x) for x in inputs]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return engine.backward([_key(t) for t in tensors], seeds, retain_graph, create_graph,
                               capture)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (``.grad`` untouched)."""
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is not None:
        gos = [grad_outputs] if isinstance(grad_outputs, (Tensor, np.ndarray)) else list(
            grad_outputs)
        if len(gos) != len(outs):
            raise ValueError(f"grad: {len(gos)} grad_outputs for {len(outs)} outputs")
    else:
        gos = None
    for i, x in enumerate(ins):
        if not isinstance(x, Tensor) or not x._rg:
            raise RuntimeError(f"grad: input {i} does not require grad")
    res = run_backward(outs, gos, retain_graph, create_graph, inputs=ins)
    for i, g in enumerate(res):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {ins[i].shape}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
    return tuple(g if (g is None or create_graph) else g.detach() for g in res)


# -- factories -------------------------------------------------------------------------
def _shape_arg(shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _float_dtype(dtype: Any) -> Any:
    return _default_dtype if dtype is None else dtype


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None,
           name: str | None = None) -> Tensor:
    """Same as ``Tensor(...)``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, name=name)


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_shape_arg(shape), _float_dtype(dtype)), requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_shape_arg(shape), _float_dtype(dtype)), requires_grad)


def full(shape: Any, fill_value: float, dtype: Any = None,
         requires_grad: bool = False) -> Tensor:
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return Tensor(np.full(shape, fill_value, _float_dtype(dtype)), requires_grad)


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros_like(_raw(t), dtype=dtype), requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones_like(_raw(t), dtype=dtype), requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Like ``np.arange``; integer arguments give int64, any float one the default float."""
    if stop is None:
        start, stop = 0, start
    if dtype is None and any(isinstance(v, float) for v in (start, stop, step)):
        dtype = _default_dtype
    return Tensor(np.arange(start, stop, step, dtype=dtype), requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)


def rand(*shape: Any, rng: np.random.Generator | None = None, dtype: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) samples; pass ``rng`` for reproducibility."""
    rng = np.random.default_rng() if rng is None else rng
    return Tensor(rng.random(_shape_arg(shape)).astype(_float_dtype(dtype)), requires_grad)


def randn(*shape: Any, rng: np.random.Generator | None = None, dtype: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Standard normal samples; pass ``rng`` for reproducibility."""
    rng = np.random.default_rng() if rng is None else rng
    return Tensor(rng.standard_normal(_shape_arg(shape)).astype(_float_dtype(dtype)),
                  requires_grad)


# -- wiring the ops in: autograd.ops calls this once all op modules are imported -----------
_add = _sub = _mul = _div = _pow = _neg = _matmul = _getitem = _Cast = None  # type: Any


def install_ops(modules: Sequence[Any]) -> None:
    """Bind the operators to their ops and attach each module's ``TENSOR_METHODS``."""
    global _add, _sub, _mul, _div, _pow, _neg, _matmul, _getitem, _Cast
    from .ops import elementwise as ew
    from .ops import index as ix
    from .ops import linalg as la

    _add, _sub, _mul, _div = ew.Add.apply, ew.Sub.apply, ew.Mul.apply, ew.Div.apply
    _pow, _neg, _Cast = ew.pow, ew.Neg.apply, ew.Cast
    _matmul, _getitem = la.MatMul.apply, ix.getitem
    for mod in modules:
        for name in getattr(mod, "TENSOR_METHODS", ()):
            setattr(Tensor, name, getattr(mod, name))
