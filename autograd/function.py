"""``Function`` and its graph node: the one mechanism every op is built with.

An op is a subclass of :class:`Function` with a ``forward`` on numpy arrays and a
``backward`` written with Tensor ops. ``Function.apply`` runs the forward and, when a
graph is being recorded, creates the :class:`Node` (the ``ctx`` both methods see) that
links the output to its inputs. Because backward is made of recorded ops, gradients of
gradients come for free with ``create_graph=True``; under a plain ``backward()`` recording
is off and the same code runs as plain numpy through thin wrappers.

Broadcasting is undone here, once for every op: a gradient whose shape differs from its
input's is summed back to that shape, and cast to the input's dtype.
"""

from __future__ import annotations

import math
import os
import traceback
from typing import Any

import numpy as np

from . import engine
from .engine import RemovableHandle, grad_mode
from .tensor import Tensor, _make

_new = object.__new__
_ndarray = np.ndarray
_PKG_DIR = os.path.dirname(os.path.abspath(__file__))
_NN_DIR = os.path.join(os.path.dirname(_PKG_DIR), "nn") + os.sep


class _NoCtx:
    """The ctx a forward sees when no graph is recorded: saving is a no-op."""

    needs_input_grad: tuple = ()

    def save_for_backward(self, *arrays: Any) -> None:
        pass


class Node:
    """A recorded op application: the ``ctx`` of a Function and a vertex of the graph.

    Holds its inputs (Tensors, or the raw constants it was given) so the graph can be
    walked and drawn, what ``forward`` saved, and hooks on its outputs. It never holds its
    own outputs, so there are no reference cycles between tensors and nodes.
    """

    __slots__ = (
        "fn",
        "inputs",
        "needs_input_grad",
        "_next",
        "_nout",
        "_saved",
        "_versions",
        "_outs",
        "_freed",
        "_hooks",
        "_trace",
        "_scope",
        "__dict__",
        "__weakref__",
    )

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays (inputs, outputs or intermediates) for ``backward``."""
        self._saved = arrays

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        """What forward saved, as Tensors connected to the graph where they came from."""
        if self._freed:
            raise RuntimeError(_freed_message(self))
        saved = self._saved
        if saved is None:
            return ()
        inputs = self.inputs
        versions = self._versions
        out = []
        for j, s in enumerate(saved):
            ts = type(s)
            if ts is int:
                if s >= 0:  # an input, by position
                    t = inputs[s]
                    if isinstance(t, Tensor):
                        expected = 0 if versions is None else versions[j]
                        if t._version != expected:
                            raise RuntimeError(_modified_message(self, t, expected))
                    elif type(t) is _ndarray:
                        t = _make(t, None, False)
                else:  # output ~s, rebuilt connected to this node (a new tensor: no cycle)
                    k = ~s
                    t = _make(self._outs if self._nout == 1 else self._outs[k], self, True)
                    if self._nout != 1:
                        t._oidx = k
                out.append(t)
            elif ts is _ndarray:
                out.append(_make(s, None, False))
            elif ts is _Raw:
                out.append(s.value)
            else:
                out.append(s)
        return tuple(out)

    @property
    def name(self) -> str:
        """The op's name, e.g. ``Mul``."""
        return self.fn.__name__

    @property
    def next_functions(self) -> tuple:
        """The producers of this node's inputs: nodes, leaf tensors, or None."""
        return tuple(None if k is None else engine._vertex(k) for k in self._next)

    @property
    def output_meta(self) -> tuple[tuple[tuple[int, ...], np.dtype], ...]:
        """(shape, dtype) of each output."""
        outs = (self._outs,) if self._nout == 1 else self._outs
        return tuple((o.shape, o.dtype) for o in outs)

    def register_hook(self, fn: Any, index: int = 0) -> RemovableHandle:
        """Run ``fn(grad)`` on the gradient of output ``index`` before it flows on."""
        if self._hooks is None:
            self._hooks = {}
        hooks = self._hooks.setdefault(index, [])
        hooks.append(fn)
        return RemovableHandle(hooks, fn)

    def __repr__(self) -> str:
        return f"<{self.name}Backward>"

    # -- vertex protocol -------------------------------------------------------------
    def _receive(self, grad: Any, accumulate: bool) -> Any:
        hooks = self._hooks
        if hooks:
            if self._nout == 1:
                grad = _run_hooks(hooks.get(0, ()), grad)
            else:
                grad = list(grad)
                for i, hs in hooks.items():
                    if grad[i] is not None:
                        grad[i] = _run_hooks(hs, grad[i])
        return grad

    def _backprop(self, grad: Any, retain_graph: bool, only: tuple | None = None) -> list:
        if self._freed:
            raise RuntimeError(_freed_message(self))
        if only is not None and only != self.needs_input_grad:
            needs = self.needs_input_grad
            self.needs_input_grad = tuple(a and b for a, b in zip(needs, only))
            try:
                return self._backprop(grad, retain_graph)
            finally:
                self.needs_input_grad = needs
        fn = self.fn
        anomaly = grad_mode.anomaly
        if anomaly:  # a backward may mask its own inf/nan (log, sqrt at 0): check its result
            grad_mode.anomaly = False
        try:
            if self._nout == 1:
                grads = fn.backward(self, grad)
            else:
                filled = [
                    g if g is not None else Tensor(np.zeros_like(o))
                    for g, o in zip(grad, self._outs)
                ]
                grads = fn.backward(self, *filled)
        finally:
            grad_mode.anomaly = anomaly
        if type(grads) is not tuple:
            grads = (grads,) if not isinstance(grads, list) else tuple(grads)
        inputs = self.inputs
        if len(grads) != len(inputs):
            raise RuntimeError(
                f"{self.name}.backward returned {len(grads)} gradients for "
                f"{len(inputs)} inputs; return one per input (None where there is none)"
            )
        out = []
        for g, x, need in zip(grads, inputs, self.needs_input_grad):
            if not need or g is None:
                out.append(None)
                continue
            if type(g) is not Tensor:
                g = g if isinstance(g, Tensor) else Tensor(np.asarray(g, dtype=x._data.dtype))
            xd = x._data
            gd = g._data
            if gd.shape != xd.shape:
                g = _reduce_to(g, xd.shape, self.name)
                gd = g._data
            if gd.dtype != xd.dtype:
                g = g.astype(xd.dtype)
            out.append(g)
        if anomaly:
            _check_grads(self, out)
        if not retain_graph:
            self._saved = None
            self._versions = None
            self._freed = True
        return out


def _run_hooks(hooks: Any, grad: Any) -> Any:
    for h in list(hooks):
        r = h(grad)
        if r is not None:
            grad = r
    return grad


def _modified_message(node: Node, t: Tensor, expected: int) -> str:
    return (
        f"{node.name}: a tensor of shape {t.shape} saved for backward was modified in place "
        f"after the forward (version {expected} -> {t._version}); its gradient would be "
        "wrong. Assign a new array (t.data = t.data - x) or recompute the forward."
    )


def _freed_message(node: Node) -> str:
    return (
        f"Trying to backward through the graph a second time: the saved buffers of "
        f"{node.name} were freed by the first backward() (or autograd.grad()). Pass "
        "retain_graph=True to the first call if you need to backward through the graph "
        "again."
    )


def _reduce_to(g: Tensor, shape: tuple[int, ...], op: str) -> Tensor:
    """Sum a broadcast gradient back to ``shape`` (the single place broadcasting is undone)."""
    gshape = g._data.shape
    lead = len(gshape) - len(shape)
    ok = lead >= 0 and all(
        s == gs or s == 1 for s, gs in zip(shape, gshape[lead:])
    )
    if not ok:
        if math.prod(gshape) == math.prod(shape):
            return g.reshape(shape)
        raise RuntimeError(
            f"{op}.backward returned a gradient of shape {gshape} for an input of shape "
            f"{shape}; the gradient must have the input's shape or broadcast to it"
        )
    return g.sum_to(shape)


def _user_frame() -> str:
    """The innermost stack frame outside autograd and nn: where the user created the op
    (with the nn line in between, when a layer or loss made the call)."""
    via = None
    for frame in reversed(traceback.extract_stack()[:-2]):
        path = os.path.abspath(frame.filename)
        if path.startswith(_PKG_DIR + os.sep):
            continue
        if path.startswith(_NN_DIR):
            via = via or frame
            continue
        where = f'File "{frame.filename}", line {frame.lineno}, in {frame.name}\n    {frame.line}'
        if via is not None:
            where += (f'\n  via File "{via.filename}", line {via.lineno}, in {via.name}\n'
                      f"    {via.line}")
        return where
    if via is not None:
        return f'File "{via.filename}", line {via.lineno}, in {via.name}\n    {via.line}'
    return "(created inside autograd)"


def _nonfinite(arr: Any) -> bool:
    return isinstance(arr, np.ndarray) and arr.dtype.kind in "fc" and not np.isfinite(arr).all()


def _check_output(cls: type, node: Node | None, outs: tuple) -> None:
    for o in outs:
        if _nonfinite(o):
            where = node._trace if node is not None else _user_frame()
            raise FloatingPointError(
                f"anomaly: {cls.__name__} produced NaN/inf in its forward output "
                f"(shape {o.shape}).\nThe op was created at:\n  {where}"
            )


def _check_grads(node: Node, grads: list) -> None:
    for i, g in enumerate(grads):
        if g is not None and _nonfinite(g._data):
            raise FloatingPointError(
                f"anomaly: {node.name}.backward produced NaN/inf in the gradient of input "
                f"{i} (shape {g.shape}).\nThe op was created at:\n  "
                f"{node._trace or '(not recorded: the op was created outside anomaly mode)'}"
            )


class Function:
    """Base class of every op. Subclass with static ``forward`` and ``backward``.

    ``forward(ctx, *arrays, **params)`` gets numpy arrays (and any non-Tensor arguments as
    given) and returns an array or a tuple of arrays; ``backward(ctx, *grads)`` gets one
    Tensor gradient per output and returns one gradient per input (``None`` where there is
    none), written with Tensor ops so it is itself differentiable.
    """

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run the op on Tensors (or raw values), recording it when grad is enabled."""
        datas = []
        need = False
        for a in args:
            if isinstance(a, Tensor):
                datas.append(a._data)
                if a._rg:
                    need = True
            elif isinstance(a, np.generic):  # numpy scalars act like Python numbers
                datas.append(a.item())
            else:
                datas.append(a)
        if not (need and grad_mode.enabled):
            try:
                out = cls.forward(_NoCtx(), *datas, **kwargs)
            except ValueError as exc:
                raise _shape_error(cls, args, exc) from None
            if type(out) is _ndarray and not grad_mode.anomaly:
                return _make(out, None, False)
            return _wrap_untracked(cls, out)

        nxt = []
        needs = []
        for a in args:
            if isinstance(a, Tensor) and a._rg:
                needs.append(True)
                gf = a.grad_fn
                if gf is None:
                    nxt.append(a)
                elif a._oidx is None:
                    nxt.append(gf)
                else:
                    nxt.append((gf, a._oidx))
            else:
                needs.append(False)
                nxt.append(None)
        needs = tuple(needs)
        node = _new(Node)
        node.fn = cls
        node.inputs = args
        node._next = tuple(nxt)
        node.needs_input_grad = _NEEDS.setdefault(needs, needs)
        node._saved = None
        node._versions = None
        node._outs = None
        node._freed = False
        node._hooks = None
        node._trace = _user_frame() if grad_mode.anomaly else None
        node._scope = grad_mode.scope
        try:
            out = cls.forward(node, *datas, **kwargs)
        except ValueError as exc:
            raise _shape_error(cls, args, exc) from None

        saved = node._saved
        if type(out) is tuple:
            raw = out
            arrays = tuple(o if type(o) is _ndarray else np.asarray(o) for o in raw)
            node._nout = len(arrays)
            node._outs = arrays
            result = []
            for i, a in enumerate(arrays):
                t = _make(a, node, True)
                t._oidx = i if len(arrays) > 1 else None  # a 1-tuple is keyed as one output
                result.append(t)
            result = tuple(result)
        else:
            raw = (out,)
            if type(out) is not _ndarray:
                out = np.asarray(out)
            arrays = (out,)
            node._nout = 1
            node._outs = out
            result = _make(out, node, True)
        if saved is not None:
            _resolve_saved(node, saved, args, datas, raw, arrays)
        if grad_mode.anomaly:
            _check_output(cls, node, arrays)
        return result


def _wrap_untracked(cls: type, out: Any) -> Any:
    """Wrap forward results when no graph is recorded (tuples, scalars, anomaly checks)."""
    if type(out) is tuple:
        outs = tuple(_make(o if type(o) is _ndarray else np.asarray(o), None, False)
                     for o in out)
        if grad_mode.anomaly:
            _check_output(cls, None, tuple(t._data for t in outs))
        return outs
    if type(out) is not _ndarray:
        out = np.asarray(out)
    if grad_mode.anomaly:
        _check_output(cls, None, (out,))
    return _make(out, None, False)


class _Raw:
    """A saved non-array value (e.g. a Python number), returned as it was given."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _resolve_saved(
    node: Node, saved: tuple, args: tuple, datas: list, raw: tuple, arrays: tuple
) -> None:
    """Record what forward saved so that the node keeps few objects for the garbage
    collector: inputs as their position, outputs as ``~index`` (the node keeps its output
    arrays in ``_outs``, which also give their shapes and dtypes),
    intermediate arrays as they are; versions only where a saved input was ever edited."""
    res = []
    versions = None
    for j, s in enumerate(saved):
        if s is None or type(s) is float or isinstance(s, Tensor):
            res.append(s)
            continue
        for i, d in enumerate(datas):
            if s is d:
                res.append(i)
                a = args[i]
                if isinstance(a, Tensor) and a._version:
                    if versions is None:
                        versions = [0] * len(saved)
                    versions[j] = a._version
                break
        else:
            for i, (r, arr) in enumerate(zip(raw, arrays)):
                if s is r or s is arr:
                    res.append(~i)
                    break
            else:
                if type(s) is _ndarray:
                    res.append(s)
                elif isinstance(s, np.generic):
                    res.append(np.asarray(s))
                else:
                    res.append(_Raw(s))
    node._saved = tuple(res)
    if versions is not None:
        node._versions = tuple(versions)


_NEEDS: dict[tuple, tuple] = {}  # one shared needs_input_grad tuple per pattern


def _shape_error(cls: type, args: tuple, exc: ValueError) -> ValueError:
    msg = str(exc)
    shapes = [
        tuple(np.shape(a._data if isinstance(a, Tensor) else a))
        for a in args
        if isinstance(a, (Tensor, np.ndarray, list, tuple, int, float))
    ]
    if "broadcast" in msg:
        shown = " and ".join(str(s) for s in shapes)
        return ValueError(f"{cls.__name__}: cannot broadcast shapes {shown} together")
    return ValueError(f"{cls.__name__}: {msg}")
