"""The backward engine: grad mode, graph order and the reverse walk.

The engine knows graphs, not numpy. A graph is made of *vertices*: any object with

- ``_next``: a tuple with one entry per input of the vertex, each either ``None`` (no
  gradient flows there) or the *key* of the vertex that produced that input. A key is
  the vertex itself, or ``(vertex, i)`` for output ``i`` of a vertex with several outputs;
- ``_nout``: how many outputs the vertex has;
- ``_hooks``: None or a non-empty collection when hooks are registered;
- ``_receive(grad, accumulate)``: runs the vertex's hooks on its total incoming gradient
  and, when ``accumulate`` is true and the vertex is a leaf that keeps a gradient, adds it
  there; returns the (possibly hook-replaced) gradient. Called for leaves, and for inner
  vertices only when they have hooks or their gradient is being captured;
- ``_backprop(grad, retain_graph, only=None)``: the gradients for the vertex's inputs,
  aligned with ``_next`` (``None`` where there is none); ``only``, when given, says per
  input whether its gradient is wanted at all. For several outputs, ``grad`` is a list.

Tensor graphs use op nodes and leaf tensors as vertices; the scalar ``Value`` is its own
vertex. Gradients are summed with ``+``, so floats and Tensors both work, and when a graph
is being built (``create_graph``) the sums themselves are recorded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _GradMode:
    """Global state read on every op: recording on/off, anomaly detection, and the
    innermost :class:`Scope` (e.g. the module whose forward is running)."""

    __slots__ = ("enabled", "anomaly", "scope")

    def __init__(self) -> None:
        self.enabled = True
        self.anomaly = False
        self.scope: Scope | None = None


grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    """True when ops on tensors that require grad are recorded into a graph."""
    return grad_mode.enabled


class set_grad_enabled:
    """Context manager and decorator that turns graph recording on or off."""

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)
        self._prev: list[bool] = []

    def __enter__(self) -> None:
        self._prev.append(grad_mode.enabled)
        grad_mode.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        grad_mode.enabled = self._prev.pop()

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__(self.mode):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(set_grad_enabled):
    """Ops inside do not build a graph: for inference and parameter updates."""

    def __init__(self) -> None:
        super().__init__(False)

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with no_grad():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class enable_grad(set_grad_enabled):
    """Ops inside build a graph again, even within ``no_grad``."""

    def __init__(self) -> None:
        super().__init__(True)

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with enable_grad():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class Scope:
    """A named region of code (a module's forward); recorded nodes remember the innermost
    one, so a drawing can group ops into labelled boxes. Scopes nest through ``parent``."""

    __slots__ = ("label", "parent", "__weakref__")

    def __init__(self, label: str, parent: Scope | None = None) -> None:
        self.label = label
        self.parent = parent

    def path(self) -> list[Scope]:
        """Outermost first, ending with this scope."""
        out = []
        s: Scope | None = self
        while s is not None:
            out.append(s)
            s = s.parent
        return out[::-1]

    def __repr__(self) -> str:
        return f"Scope({' / '.join(s.label for s in self.path())!r})"


class scope:
    """Context manager: ops recorded inside belong to a new :class:`Scope` named ``label``."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._prev: list[Scope | None] = []

    def __enter__(self) -> Scope:
        prev = grad_mode.scope
        self._prev.append(prev)
        grad_mode.scope = Scope(self.label, prev)
        return grad_mode.scope

    def __exit__(self, *exc: object) -> None:
        grad_mode.scope = self._prev.pop()


class RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` takes the hook out again."""

    __slots__ = ("_hooks", "_fn")

    def __init__(self, hooks: list, fn: Callable) -> None:
        self._hooks = hooks
        self._fn = fn

    def remove(self) -> None:
        try:
            self._hooks.remove(self._fn)
        except ValueError:
            pass


def _vertex(key: Any) -> Any:
    return key[0] if type(key) is tuple else key


def dependency_counts(roots: Iterable[Any]) -> dict[Any, int]:
    """For every vertex reachable from ``roots``, how many edges lead into it.

    Iterative depth-first walk: graph depth never touches the Python stack.
    """
    return {v: e[0] for v, e in _states(list(roots)).items()}


def topological_order(roots: Iterable[Any]) -> list[Any]:
    """Vertices reachable from ``roots``, each before every vertex it depends on."""
    roots = list(dict.fromkeys(roots))
    return _kahn(roots, dependency_counts(roots))


def _kahn(roots: list[Any], deps: dict[Any, int]) -> list[Any]:
    """Order vertices so that each comes after all its consumers (uses up ``deps``)."""
    ready = [r for r in roots if deps[r] == 0]
    order = []
    while ready:
        v = ready.pop()
        order.append(v)
        for key in v._next:
            if key is None:
                continue
            p = key[0] if type(key) is tuple else key
            n = deps[p] - 1
            deps[p] = n
            if n == 0:
                ready.append(p)
    return order


def _leading_to(order: list[Any], targets: set[Any]) -> set[Any]:
    """The vertices from which some target can be reached (targets included): the only
    ones whose backward matters when gradients are captured rather than accumulated."""
    needed = set(targets)
    for v in reversed(order):
        if v not in needed:
            for key in v._next:
                if key is not None and _vertex(key) in needed:
                    needed.add(v)
                    break
    return needed


def _states(roots: list[Any]) -> dict[Any, list]:
    """Per reachable vertex a list ``[edges still to arrive, gradient so far]``: one dict
    entry serves both the dependency count and the gradient buffer."""
    st: dict[Any, list] = {}
    stack = list(roots)
    for r in stack:
        st[r] = [0, None]
    while stack:
        v = stack.pop()
        for key in v._next:
            if key is None:
                continue
            p = key[0] if type(key) is tuple else key
            e = st.get(p)
            if e is None:
                st[p] = [1, None]
                stack.append(p)
            else:
                e[0] += 1
    return st


def backward(
    root_keys: Sequence[Any],
    seeds: Sequence[Any],
    retain_graph: bool = False,
    create_graph: bool = False,
    capture: Sequence[Any] | None = None,
) -> list[Any] | None:
    """Propagate ``seeds`` from ``root_keys`` back through the graph (the chain rule).

    Vertices run in reverse topological order, counted by their consumers (Kahn's
    algorithm), so every vertex sees its total gradient exactly once. With ``capture``
    (a list of keys) the gradients arriving at those keys are returned instead of being
    accumulated into leaves, and only the part of the graph that leads to them runs.
    """
    roots = list(dict.fromkeys(_vertex(k) for k in root_keys))
    st = _states(roots)
    multi: dict[Any, Any] = {}  # gradients of outputs of vertices with several outputs
    for key, seed in zip(root_keys, seeds):
        if type(key) is tuple:
            old = multi.get(key)
            multi[key] = seed if old is None else old + seed
        else:
            e = st[key]
            e[1] = seed if e[1] is None else e[1] + seed
    want = None
    needed = None
    captured: dict[Any, Any] = {}
    if capture is not None:
        want = set(capture)
        order = _kahn(roots, {v: e[0] for v, e in st.items()})
        needed = _leading_to(order, {_vertex(k) for k in capture})
    accumulate = capture is None

    prev_mode = grad_mode.enabled
    grad_mode.enabled = create_graph
    try:
        ready = [r for r in roots if st[r][0] == 0]
        pop = ready.pop
        push = ready.append
        while ready:
            v = pop()
            nxt = v._next
            if v._nout == 1:
                g = st[v][1]
                if g is not None:
                    if want is not None and v in want:
                        g = captured[v] = v._receive(g, accumulate)
                    elif not nxt or v._hooks:
                        g = v._receive(g, accumulate)
            else:
                g = [multi.pop((v, i), None) for i in range(v._nout)]
                if all(x is None for x in g):
                    g = None
                else:
                    g = v._receive(g, accumulate)
                    if want is not None:
                        for i in range(v._nout):
                            if (v, i) in want and g[i] is not None:
                                captured[(v, i)] = g[i]
            if not nxt:
                continue
            if g is not None and needed is not None:
                if v in needed:  # compute only the gradients that lead to a captured input
                    only = tuple(k is not None and _vertex(k) in needed for k in nxt)
                    grads = v._backprop(g, retain_graph, only)
                else:
                    g = None
            elif g is not None:
                grads = v._backprop(g, retain_graph)
            if g is not None:
                for key, pg in zip(nxt, grads):
                    if key is None:
                        continue
                    if type(key) is tuple:
                        if pg is not None:
                            old = multi.get(key)
                            multi[key] = pg if old is None else old + pg
                        e = st[key[0]]
                    else:
                        e = st[key]
                        if pg is not None:
                            old = e[1]
                            e[1] = pg if old is None else old + pg
                    n = e[0] - 1
                    e[0] = n
                    if n == 0:
                        push(key[0] if type(key) is tuple else key)
            else:
                for key in nxt:
                    if key is None:
                        continue
                    p = key[0] if type(key) is tuple else key
                    e = st[p]
                    n = e[0] - 1
                    e[0] = n
                    if n == 0:
                        push(p)
            st[v][1] = None  # the vertex is done: drop its gradient early
    finally:
        grad_mode.enabled = prev_mode
    if capture is None:
        return None
    return [captured.get(k) for k in capture]
