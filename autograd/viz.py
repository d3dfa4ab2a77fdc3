"""Drawing computation graphs: ``draw_graph`` for ``Value`` and ``Tensor`` graphs.

The walk goes from the roots towards the inputs with an explicit queue (breadth first),
so graphs of any depth draw and ``max_nodes`` keeps the part nearest the roots. Every
vertex becomes a DOT node whose label is an HTML-like label built from escaped text, so
no tensor name can break the DOT syntax. Rendering runs Graphviz's ``dot`` program
through the ``graphviz`` package, which starts it without a shell; a missing ``dot``
raises :class:`GraphvizNotFound`, whose message says how to install it.

Gradient-flow view (``grad_flow=True``): every tensor that requires grad is coloured by
its mean absolute gradient on a log scale. The gradients are d(sum of the roots)/d(node),
computed by a fresh backward pass over the retained graph that captures the gradient
arriving at every vertex without touching any ``.grad`` and without running hooks. When
the saved buffers were already freed by ``backward()``, that pass is impossible; then the
``.grad`` present on leaves (and on tensors that called ``retain_grad()``) is used and the
other tensors are marked "not available". For ``Value`` graphs the pass always works
(Values free nothing); their ``.grad`` is restored afterwards.
"""

from __future__ import annotations

import argparse
import ast
import html
import math
import operator
import os
import re
import shutil
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import graphviz
import numpy as np

from . import engine
from .engine import Scope
from .function import Node
from .tensor import Tensor
from .value import Value

__all__ = [
    "draw_graph",
    "draw_dot",
    "save",
    "GraphDrawing",
    "GraphvizNotFound",
    "install_hint",
    "grad_magnitudes",
    "grad_color",
    "GRAD_PALETTE",
    "graph_main",
]

# -- rendering, saving, and the missing-dot message ------------------------------------

RENDER_FORMATS = {
    ".svg": "svg",
    ".png": "png",
    ".pdf": "pdf",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".gif": "gif",
    ".ps": "ps",
    ".eps": "eps",
}
SOURCE_SUFFIXES = (".dot", ".gv")


class GraphvizNotFound(graphviz.ExecutableNotFound):
    """Rendering needs Graphviz's ``dot`` program, which is not on PATH.

    A ``RuntimeError`` (and a ``graphviz.ExecutableNotFound``) whose message says how to
    install Graphviz on this platform.
    """

    def __init__(self, message: str) -> None:
        RuntimeError.__init__(self, message)


def _linux_install() -> str:
    ids = ""
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            for line in f:
                if line.startswith(("ID=", "ID_LIKE=")):
                    ids += " " + line.split("=", 1)[1].strip().strip('"').lower()
    except OSError:
        pass
    words = set(ids.split())
    if words & {"debian", "ubuntu"}:
        return "sudo apt-get install graphviz"
    if words & {"fedora", "rhel", "centos"}:
        return "sudo dnf install graphviz"
    if words & {"arch"}:
        return "sudo pacman -S graphviz"
    if words & {"alpine"}:
        return "apk add graphviz"
    if words & {"suse", "opensuse"}:
        return "sudo zypper install graphviz"
    return "install the 'graphviz' package with your distribution's package manager"


def install_hint() -> str:
    """How to install Graphviz's ``dot`` program here, and on the other platforms."""
    if os.environ.get("CONDA_PREFIX"):
        here = "conda install -c conda-forge graphviz"
    elif sys.platform == "darwin":
        here = "brew install graphviz"
    elif sys.platform.startswith("win"):
        here = "winget install graphviz   (then open a new terminal so 'dot' is on PATH)"
    else:
        here = _linux_install()
    return (
        "Graphviz's 'dot' program was not found on PATH, so the graph cannot be rendered "
        "to SVG/PNG/PDF.\n"
        "(pip's 'graphviz' package is only the Python interface; it needs the separate "
        "Graphviz program.)\n"
        f"Install it on this machine with:\n    {here}\n"
        "Elsewhere:\n"
        "    Debian/Ubuntu: sudo apt-get install graphviz    Fedora/RHEL: sudo dnf install "
        "graphviz\n"
        "    macOS: brew install graphviz                    Windows: winget install graphviz\n"
        "    conda (any platform): conda install -c conda-forge graphviz\n"
        "Building the graph and saving DOT source still work: graph.save('graph.dot')."
    )


def _not_found() -> GraphvizNotFound:
    return GraphvizNotFound(install_hint())


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save(graph: graphviz.Source | graphviz.Digraph | graphviz.Graph,
         path: str | os.PathLike) -> Path:
    """Write ``graph`` to ``path`` in the format its suffix names.

    ``.dot``/``.gv`` write the DOT source (always works); ``.svg .png .pdf .jpg .gif .ps
    .eps`` run Graphviz's ``dot`` (raises :class:`GraphvizNotFound` without it). The file
    is written atomically. Returns the path.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in SOURCE_SUFFIXES:
        _atomic_write(p, graph.source.encode("utf-8"))
        return p
    fmt = RENDER_FORMATS.get(suffix)
    if fmt is None:
        known = " ".join(list(SOURCE_SUFFIXES) + list(RENDER_FORMATS))
        raise ValueError(f"save: cannot tell the format of {str(p)!r} from its suffix "
                         f"{suffix or '(none)'!r}; use one of {known}")
    if shutil.which("dot") is None:
        raise _not_found()
    try:
        data = graphviz.Source.pipe(graph, format=fmt)
    except graphviz.ExecutableNotFound:
        raise _not_found() from None
    _atomic_write(p, data)
    return p


class GraphDrawing(graphviz.Digraph):
    """The ``graphviz.Digraph`` that ``draw_graph`` returns.

    Adds ``save(path)`` (format from the suffix), turns a missing ``dot`` into
    :class:`GraphvizNotFound`, and in notebooks shows inline SVG, or the install message as
    text when ``dot`` is missing.
    """

    _source_only_save = False

    def save(self, filename: str | os.PathLike | None = None,  # type: ignore[override]
             directory: str | os.PathLike | None = None, *,
             skip_existing: bool | None = False) -> str:
        """Write the drawing to ``filename``, in the format its suffix names (see
        :func:`save`). Without a filename, or when called from ``render``, this is
        graphviz's own save of the DOT source."""
        if filename is None or self._source_only_save:
            return super().save(filename, directory=directory, skip_existing=skip_existing)
        path = Path(directory, filename) if directory is not None else Path(filename)
        return str(save(self, path))

    def render(self, *args: Any, **kwargs: Any) -> str:
        """graphviz's ``render``, with a missing ``dot`` reported as
        :class:`GraphvizNotFound`."""
        self._source_only_save = True
        try:
            return super().render(*args, **kwargs)
        except graphviz.ExecutableNotFound as exc:
            if isinstance(exc, GraphvizNotFound):
                raise
            raise _not_found() from None
        finally:
            self._source_only_save = False

    def pipe(self, *args: Any, **kwargs: Any) -> Any:
        """graphviz's ``pipe`` (render to bytes or str), with a missing ``dot`` reported
        as :class:`GraphvizNotFound`."""
        try:
            return super().pipe(*args, **kwargs)
        except graphviz.ExecutableNotFound as exc:
            if isinstance(exc, GraphvizNotFound):
                raise
            raise _not_found() from None

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None,
                          **kwargs: Any) -> dict[str, Any]:
        try:
            return super()._repr_mimebundle_(include, exclude, **kwargs)
        except GraphvizNotFound as exc:
            return {"text/plain": f"{exc}\n\n(DOT source: {len(self.body)} lines; "
                                  "print(graph.source) to see it)"}


# -- escaping --------------------------------------------------------------------------

_MAX_TEXT = 60
_BAD_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _visible(ch: re.Match) -> str:
    c = ord(ch.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def _esc(text: Any, limit: int = _MAX_TEXT) -> str:
    """Text made safe inside an HTML-like label: entities, line breaks, no invalid XML."""
    s = str(text)
    if len(s) > limit:
        s = s[: limit - 1] + "\u2026"
    s = _BAD_XML.sub(_visible, s)
    # dot's HTML lexer rejects text that starts with "]", so brackets go as entities;
    # dot expands \N, \G, ... and turns \\ into \ even in HTML labels: double backslashes
    s = html.escape(s, quote=True).replace("]", "&#93;").replace("\\", "\\\\")
    s = s.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return s.replace("\n", "<BR/>")


def _bold(text: Any) -> str:
    """A bold title; dot rejects an empty <B></B>, so an empty name shows as quotes."""
    e = _esc(text)
    return f"<B>{e}</B>" if e else "<B>''</B>"


def _dot_string(text: str) -> str:
    """Text for a quoted DOT attribute (tooltips): backslashes and controls made inert."""
    s = _BAD_XML.sub(_visible, str(text))
    s = "".join(c if c >= " " else " " for c in s)
    return s.replace("\\", "\\\\")


# -- labels ----------------------------------------------------------------------------

SMALL = 8  # tensors with at most this many elements show their values
FONT = "Helvetica"


def _fmt_array(a: Any) -> str:
    arr = np.asarray(a)
    if arr.ndim == 0:
        return _fmt_number(arr.item())
    if arr.ndim == 1 and arr.dtype.kind in "biuf":  # the common case, without array2string
        return "[" + ", ".join(_fmt_number(v) for v in arr.tolist()) + "]"
    return np.array2string(arr, separator=", ", max_line_width=48, threshold=SMALL + 1,
                           formatter={"float_kind": _fmt_number})


def _fmt_number(x: Any) -> str:
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        return f"{float(x):.4g}"
    return str(x)


def _table(rows: Sequence[str], horizontal: bool = False) -> str:
    head = '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">'
    if horizontal:
        cells = "<VR/>".join(f"<TD>{r}</TD>" for r in rows)
        return f"<{head}<TR>{cells}</TR></TABLE>>"
    body = "<HR/>".join(f'<TR><TD BALIGN="LEFT">{r}</TD></TR>' for r in rows)
    return f"<{head}{body}</TABLE>>"


def _const_label(x: Any) -> str:
    if isinstance(x, (int, float, bool, np.generic)):
        return _esc(_fmt_number(x))
    if isinstance(x, np.ndarray):
        if x.size <= SMALL:
            return _esc(_fmt_array(x))
        return _esc(f"array {tuple(x.shape)} {x.dtype}")
    if x is None:
        return "None"
    return _esc(type(x).__name__ + " " + repr(x), 40)


# -- the walk --------------------------------------------------------------------------


class _Vertex:
    """One drawn node: a tensor or value (data), an op, or a constant input."""

    __slots__ = ("key", "kind", "obj", "node", "index")

    def __init__(self, key: tuple, kind: str, obj: Any, node: Any = None,
                 index: int = 0) -> None:
        self.key = key
        self.kind = kind  # "tensor" | "op" | "const" | "value" | "vop"
        self.obj = obj
        self.node = node
        self.index = index


def _tensor_key(t: Tensor) -> tuple:
    gf = t.grad_fn
    if gf is None:
        return ("t", id(t))
    return ("o", id(gf), t._oidx or 0)


def _better(old: Tensor, new: Tensor) -> bool:
    """Several Tensor objects can stand for one op output; keep the most informative."""
    if not old.name and new.name:
        return True
    return old.grad is None and new.grad is not None and bool(new.name) == bool(old.name)


def _walk(roots: Sequence[Any]) -> tuple[list[_Vertex], list[tuple[tuple, tuple]]]:
    """Every vertex reachable from ``roots`` in breadth-first order, and the edges
    (producer key, consumer key) along which data flows."""
    verts: dict[tuple, _Vertex] = {}
    order: list[_Vertex] = []
    edges: list[tuple[tuple, tuple]] = []
    queue: deque[_Vertex] = deque()

    def add(key: tuple, kind: str, obj: Any, node: Any = None, index: int = 0) -> None:
        v = verts.get(key)
        if v is None:
            v = _Vertex(key, kind, obj, node, index)
            verts[key] = v
            order.append(v)
            queue.append(v)
        elif kind == "tensor" and v.obj is not obj and _better(v.obj, obj):
            v.obj = obj

    for r in roots:
        if isinstance(r, Tensor):
            add(_tensor_key(r), "tensor", r)
        else:
            add(("v", id(r)), "value", r)
    while queue:
        v = queue.popleft()
        kind = v.kind
        if kind == "tensor":
            gf = v.obj.grad_fn
            if gf is not None:
                k = ("n", id(gf))
                add(k, "op", gf)
                edges.append((k, v.key))
        elif kind == "op":
            node = v.obj
            for i, a in enumerate(node.inputs):
                if isinstance(a, Tensor):
                    k = _tensor_key(a)
                    add(k, "tensor", a)
                else:
                    k = ("c", id(node), i)
                    add(k, "const", a, node, i)
                edges.append((k, v.key))
        elif kind == "value":
            val = v.obj
            if val._prev or val._op:
                k = ("vo", id(val))
                add(k, "vop", val)
                edges.append((k, v.key))
        elif kind == "vop":
            for p in v.obj._prev:
                k = ("v", id(p))
                add(k, "value", p)
                edges.append((k, v.key))
    return order, edges


# -- gradient magnitudes ---------------------------------------------------------------

# viridis, dark (small gradients) to bright (large gradients)
GRAD_PALETTE = ("#440154", "#46327e", "#365c8d", "#277f8e",
                "#1fa187", "#4ac16d", "#a0da39", "#fde725")
_DARK = 4  # the first _DARK palette colours take white text
ZERO_COLOR = "#d4d4d4"
NONFINITE_COLOR = "#ff00ff"


def _mean_abs(g: Any) -> float:
    arr = g.data if isinstance(g, Tensor) else np.asarray(g)
    if arr.size == 0:
        return 0.0
    return float(np.mean(np.abs(arr.astype(np.float64, copy=False))))


def _tensor_magnitudes(order: Sequence[_Vertex], roots: Sequence[Tensor]
                       ) -> tuple[dict[tuple, float | None], bool]:
    """Mean |d(sum of roots)/d t| for every tensor vertex that requires grad; the flag
    says whether the fresh pass ran (False: only existing ``.grad`` was used)."""
    tensors = [v for v in order if v.kind == "tensor" and v.obj.requires_grad]
    nodes = [v.obj for v in order if v.kind == "op"]
    roots = [r for r in roots if r.requires_grad]
    mags: dict[tuple, float | None] = {}
    if roots and not any(n._freed for n in nodes):
        keys = []
        for v in tensors:
            t = v.obj
            gf = t.grad_fn
            keys.append(t if gf is None else (gf if gf._nout == 1 else (gf, t._oidx or 0)))
        root_keys = []
        for r in roots:
            gf = r.grad_fn
            root_keys.append(r if gf is None else (gf if gf._nout == 1 else (gf, r._oidx or 0)))
        seeds = [Tensor(np.ones(r.shape, r.dtype)) for r in roots]
        saved_hooks = [(n, n._hooks) for n in nodes] + [(v.obj, v.obj._hooks) for v in tensors
                                                       if v.obj.grad_fn is None]
        try:
            for obj, _ in saved_hooks:
                obj._hooks = None
            with np.errstate(all="ignore"):
                grads = engine.backward(root_keys, seeds, retain_graph=True,
                                        create_graph=False, capture=keys)
        finally:
            for obj, hooks in saved_hooks:
                obj._hooks = hooks
        for v, g in zip(tensors, grads):
            mags[v.key] = 0.0 if g is None else _mean_abs(g)
        return mags, True
    for v in tensors:
        t = v.obj
        if t.grad is not None:
            mags[v.key] = _mean_abs(t.grad)
        elif t.grad_fn is None:
            mags[v.key] = 0.0
        else:
            mags[v.key] = None
    return mags, not roots


def _value_magnitudes(order: Sequence[_Vertex], roots: Sequence[Value]
                      ) -> dict[tuple, float | None]:
    """|d(sum of roots)/d v| for every Value, by a fresh pass; ``.grad`` is restored."""
    values = [v.obj for v in order if v.kind == "value"]
    saved = [(x, x.grad, x._hooks) for x in values]
    try:
        for x in values:
            x.grad = 0.0
            x._hooks = None
        if roots:
            engine.backward(list(roots), [1.0] * len(roots))
        mags = {("v", id(x)): abs(x.grad) for x in values}
    finally:
        for x, g, hooks in saved:
            x.grad = g
            x._hooks = hooks
    return mags


def grad_magnitudes(*roots: Tensor | Value) -> dict[Any, float | None]:
    """Gradient magnitude of every tensor or value the roots depend on, keyed by object.

    Tensors: mean |d(sum of roots)/d t| (``None`` where unavailable, see the module
    docstring); Values: |d(sum of roots)/d v|. This is what ``grad_flow=True`` colours.
    """
    roots = _flatten_roots(roots)
    order, _ = _walk(roots)
    mags = _magnitudes(order, roots)[0]
    return {v.obj: mags[v.key] for v in order if v.key in mags}


def _magnitudes(order: Sequence[_Vertex], roots: Sequence[Any]
                ) -> tuple[dict[tuple, float | None], bool]:
    troots = [r for r in roots if isinstance(r, Tensor)]
    vroots = [r for r in roots if isinstance(r, Value)]
    mags, fresh = _tensor_magnitudes(order, troots)
    if vroots or any(v.kind == "value" for v in order):
        mags.update(_value_magnitudes(order, vroots))
    return mags, fresh


class _Scale:
    """One colour per decade below the largest gradient in the graph: the decade holding
    the largest is the brightest colour, each decade further down is darker, and seven or
    more decades down share the darkest. A larger magnitude never gets a darker colour."""

    def __init__(self, mags: Iterable[float | None]) -> None:
        pos = [m for m in mags if m is not None and math.isfinite(m) and m > 0]
        self.hi = math.ceil(math.log10(max(pos))) if pos else 0
        self.nbins = self.bin(min(pos)) + 1 if pos else 1

    def bin(self, m: float) -> int:
        """0 for the top decade, 1 for the next one down, ...; at most len(palette) - 1."""
        b = math.floor(self.hi - math.log10(m))
        return min(max(b, 0), len(GRAD_PALETTE) - 1)

    def palette_index(self, b: int) -> int:
        return len(GRAD_PALETTE) - 1 - b

    def label(self, b: int) -> str:
        top = self.hi - b
        if b == len(GRAD_PALETTE) - 1:
            return f"below 1e{top}"
        return f"1e{top - 1} \u2013 1e{top}"


def grad_color(m: float | None, scale: _Scale) -> tuple[str, str] | None:
    """(fill colour, font colour) for magnitude ``m`` on ``scale``; None: no colour."""
    if m is None:
        return None
    if not math.isfinite(m):
        return NONFINITE_COLOR, "black"
    if m <= 0:
        return ZERO_COLOR, "black"
    i = scale.palette_index(scale.bin(m))
    return GRAD_PALETTE[i], "white" if i < _DARK else "black"


def _legend(scale: _Scale, mags: Iterable[float | None], fresh: bool) -> str:
    mags = list(mags)
    rows = ['<TR><TD COLSPAN="2"><B>mean |grad| (log scale)</B></TD></TR>']
    for b in range(scale.nbins):
        i = scale.palette_index(b)
        rows.append(f'<TR><TD BGCOLOR="{GRAD_PALETTE[i]}" WIDTH="24"> </TD>'
                    f'<TD ALIGN="LEFT">{scale.label(b)}</TD></TR>')
    if any(m is not None and m == 0 for m in mags):
        rows.append(f'<TR><TD BGCOLOR="{ZERO_COLOR}"> </TD>'
                    '<TD ALIGN="LEFT">0 (no gradient)</TD></TR>')
    if any(m is not None and not math.isfinite(m) for m in mags):
        rows.append(f'<TR><TD BGCOLOR="{NONFINITE_COLOR}"> </TD>'
                    '<TD ALIGN="LEFT">inf / NaN</TD></TR>')
    if not fresh:
        rows.append('<TR><TD COLSPAN="2" ALIGN="LEFT">white: not available (backward() freed '
                    'the graph;<BR ALIGN="LEFT"/>draw before backward, or use '
                    'retain_graph=True)</TD></TR>')
    return ('<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">'
            + "".join(rows) + "</TABLE>>")


# -- drawing ---------------------------------------------------------------------------


def _flatten_roots(roots: Iterable[Any]) -> list[Any]:
    out = []
    stack = list(roots)[::-1]
    while stack:
        r = stack.pop()
        if isinstance(r, (list, tuple)):
            stack.extend(list(r)[::-1])
        elif isinstance(r, (Tensor, Value)):
            out.append(r)
        else:
            raise TypeError(f"draw_graph: roots must be Tensors or Values, got "
                            f"{type(r).__name__}")
    if not out:
        raise ValueError("draw_graph: give at least one Tensor or Value to draw")
    return out


def _common_scope(scopes: list[Scope | None]) -> Scope | None:
    if not scopes or any(s is None for s in scopes):
        return None
    paths = [s.path() for s in scopes]  # type: ignore[union-attr]
    common = None
    for level in zip(*paths):
        if all(s is level[0] for s in level):
            common = level[0]
        else:
            break
    return common


def _scopes_of(order: Sequence[_Vertex], edges: Sequence[tuple[tuple, tuple]],
               params_ids: set[int]) -> dict[tuple, Scope | None]:
    """The module scope each vertex is drawn in (see ``draw_graph``)."""
    where: dict[tuple, Scope | None] = {}
    consumers: dict[tuple, list[Scope | None]] = {}
    ops = {v.key: v.obj for v in order if v.kind == "op"}
    for src, dst in edges:
        node = ops.get(dst)
        if node is not None:
            consumers.setdefault(src, []).append(node._scope)
    for v in order:
        if v.kind == "op":
            where[v.key] = v.obj._scope
        elif v.kind == "const":
            where[v.key] = v.node._scope
        elif v.kind == "tensor":
            t = v.obj
            if t.grad_fn is not None:
                where[v.key] = t.grad_fn._scope
            elif t.requires_grad or id(t) in params_ids:
                where[v.key] = _common_scope(consumers.get(v.key, []))
            else:
                where[v.key] = None
        else:
            where[v.key] = None
    return where


def _highlight_keys(items: Iterable[Any]) -> set[tuple]:
    keys = set()
    for h in items:
        if isinstance(h, Tensor):
            keys.add(_tensor_key(h))
        elif isinstance(h, Node):
            keys.add(("n", id(h)))
        elif isinstance(h, Value):
            keys.add(("v", id(h)))
            keys.add(("vo", id(h)))
        else:
            raise TypeError(f"draw_graph: highlight takes Tensors, graph nodes (grad_fn) or "
                            f"Values, got {type(h).__name__}")
    return keys


def draw_graph(
    *roots: Tensor | Value,
    show_data: bool = True,
    show_grad: bool = True,
    rankdir: str = "LR",
    params: Mapping[str, Any] | None = None,
    max_nodes: int | None = None,
    group_modules: bool = False,
    grad_flow: bool = False,
    highlight: Iterable[Any] | None = None,
    format: str = "svg",
) -> GraphDrawing:
    """Draw the computation graph behind ``roots`` (Tensors or Values).

    Data nodes (boxes) show name, shape and dtype, and for tensors of at most ``SMALL``
    elements the values (``show_data``) and gradient (``show_grad``; larger tensors show
    the gradient's norm); ``Value`` nodes show label, data and grad as in micrograd. Op
    nodes are ellipses (circles for Values); raw constants given to an op (the 0.5 in
    ``y * 0.5``) are small dashed boxes. ``params`` maps names to tensors to label them,
    e.g. ``dict(model.named_parameters())``.

    ``max_nodes`` keeps the nodes nearest the roots (breadth-first) and summarizes the rest
    in one node. ``group_modules`` boxes ops by the module whose forward recorded them
    (nested clusters); an op's output goes in its op's box, a parameter in the innermost
    box shared by all its users. ``grad_flow`` colours tensors by mean |gradient| on a log
    scale with a legend (see the module docstring for how gradients are obtained).
    ``highlight`` draws the given tensors, nodes (``grad_fn``) or Values in red; they are
    kept even beyond ``max_nodes``. Works after ``backward()`` too: the structure lives in
    the nodes' inputs, not in the freed buffers.
    """
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"draw_graph: rankdir must be one of LR, RL, TB, BT, got {rankdir!r}")
    if max_nodes is not None and (not isinstance(max_nodes, int) or max_nodes < 1):
        raise ValueError(f"draw_graph: max_nodes must be a positive int or None, got "
                         f"{max_nodes!r}")
    roots_l = _flatten_roots(roots)
    names: dict[int, str] = {}
    if params is not None:
        for name, p in params.items():
            if not isinstance(p, (Tensor, Value)):
                raise TypeError(f"draw_graph: params[{name!r}] is a {type(p).__name__}, "
                                "not a Tensor or Value")
            names.setdefault(id(p), str(name))
    hl = _highlight_keys(highlight or ())

    order, edges = _walk(roots_l)
    total = len(order)
    if max_nodes is not None and total > max_nodes:
        kept = {v.key for v in order[:max_nodes]} | (hl & {v.key for v in order})
        drawn = [v for v in order if v.key in kept]
    else:
        kept = None
        drawn = order
    ids = {v.key: f"n{i}" for i, v in enumerate(drawn)}
    root_keys = {_tensor_key(r) if isinstance(r, Tensor) else ("v", id(r)) for r in roots_l}

    mags: dict[tuple, float | None] = {}
    scale = None
    fresh = True
    if grad_flow:
        mags, fresh = _magnitudes(order, roots_l)
        scale = _Scale(mags.values())

    g = GraphDrawing(
        name="autograd",
        format=format,
        graph_attr={"rankdir": rankdir, "fontname": FONT, "fontsize": "11",
                    "nodesep": "0.25", "ranksep": "0.35"},
        node_attr={"fontname": FONT, "fontsize": "10", "margin": "0.06,0.03",
                   "height": "0.3"},
        edge_attr={"arrowsize": "0.6", "color": "#555555"},
    )

    where = _scopes_of(order, edges, set(names)) if group_modules else {}
    clusters: dict[int, Any] = {}
    scope_objs: dict[int, Scope] = {}

    def target(key: tuple) -> Any:
        s = where.get(key)
        if s is None:
            return g
        c = clusters.get(id(s))
        if c is not None:
            return c
        for anc in s.path():
            if id(anc) not in clusters:
                n = len(clusters)
                clusters[id(anc)] = graphviz.Digraph(
                    name=f"cluster_{n}",
                    graph_attr={"label": f"<{_bold(anc.label)}>", "style": "rounded",
                                "color": "#64748b", "fontname": FONT, "fontsize": "11",
                                "labeljust": "l"})
                scope_objs[id(anc)] = anc
        return clusters[id(s)]

    for v in drawn:
        attrs = _node_attrs(v, names, show_data, show_grad, grad_flow, mags, scale,
                            v.key in root_keys)
        if v.key in hl:
            attrs.update(color="#dc2626", penwidth="3", fillcolor="#fecaca", fontcolor="black",
                         style="filled,bold")
        target(v.key).node(ids[v.key], **attrs)

    for src, dst in edges:
        if src in ids and dst in ids:
            g.edge(ids[src], ids[dst])
    if kept is not None:
        hidden = total - len(drawn)
        g.node("hidden", label=_table([f"<B>\u2026 {hidden:,} more nodes</B>",
                                       f"(max_nodes={max_nodes})"]),
               shape="box", style="dashed,rounded", color="#64748b", fontcolor="#334155")
        fed = dict.fromkeys(dst for src, dst in edges if src not in kept and dst in kept)
        for dst in fed:
            g.edge("hidden", ids[dst], style="dashed")

    # nested clusters: attach the deepest first, so every box is complete when added
    depth = {k: len(s.path()) for k, s in scope_objs.items()}
    for k in sorted(clusters, key=lambda k: -depth[k]):
        parent = scope_objs[k].parent
        (g if parent is None else clusters[id(parent)]).subgraph(clusters[k])

    if grad_flow and scale is not None:
        g.node("legend", label=_legend(scale, mags.values(), fresh), shape="plain")
    return g


draw_dot = draw_graph


def _node_attrs(v: _Vertex, names: dict[int, str], show_data: bool, show_grad: bool,
                grad_flow: bool, mags: dict[tuple, float | None], scale: _Scale | None,
                is_root: bool) -> dict[str, str]:
    kind = v.kind
    if kind == "op":
        return {"label": f"<{_esc(v.obj.name)}>", "shape": "ellipse", "style": "filled",
                "fillcolor": "#f1f5f9", "color": "#475569"}
    if kind == "vop":
        return {"label": f"<{_esc(v.obj._op or '?')}>", "shape": "circle", "style": "filled",
                "fillcolor": "#f1f5f9", "color": "#475569", "width": "0.4",
                "fixedsize": "false"}
    if kind == "const":
        return {"label": f"<{_const_label(v.obj)}>", "shape": "box",
                "style": "dashed,rounded", "fontsize": "9", "color": "#94a3b8",
                "fontcolor": "#475569", "height": "0.2"}
    if kind == "value":
        val = v.obj
        title = names.get(id(val)) or val.label
        rows = [_bold(title)] if title else []
        if show_data:
            rows.append(f"data {val.data:.4f}")
        if show_grad:
            rows.append(f"grad {val.grad:.4f}")
        if not rows:
            rows.append(" ")
        attrs = {"label": _table(rows, horizontal=True), "shape": "box",
                 "style": "filled", "fillcolor": "#dcfce7" if is_root else "white"}
    else:
        t = v.obj
        title = names.get(id(t)) or t.name
        rows = [_bold(title)] if title else []
        rows.append(_esc(f"{tuple(t.shape)} {t.dtype}"))
        small = t.size <= SMALL
        if show_data and small:
            rows.append(_esc("data " + _fmt_array(t.data), 400))
        if show_grad and t.grad is not None:
            if small and t.grad.size <= SMALL:
                rows.append(_esc("grad " + _fmt_array(t.grad.data), 400))
            else:
                norm = float(np.linalg.norm(np.asarray(t.grad.data, dtype=np.float64)))
                rows.append(_esc(f"grad norm {norm:.3g}"))
        if grad_flow and v.key in mags and mags[v.key] is not None:
            rows.append(_esc(f"mean |grad| {mags[v.key]:.2e}"))
        if is_root:
            fill = "#dcfce7"
        elif t.grad_fn is None and t.requires_grad:
            fill = "#dbeafe"
        else:
            fill = "white"
        attrs = {"label": _table(rows), "shape": "box", "style": "filled",
                 "fillcolor": fill}
        if t.grad_fn is None and not t.requires_grad:
            attrs["style"] = "filled,dashed"
    if grad_flow and v.key in mags:
        m = mags[v.key]
        if m is not None:
            attrs["tooltip"] = _dot_string(f"mean |grad| = {m:.6e}")
        col = grad_color(m, scale) if scale is not None else None
        if col is not None:
            attrs["fillcolor"], attrs["fontcolor"] = col
    return attrs


# -- command line ----------------------------------------------------------------------

_VALUE_FUNCS: dict[str, Callable[..., Any]] = {
    "tanh": lambda x: x.tanh(),
    "exp": lambda x: x.exp(),
    "log": lambda x: x.log(),
    "relu": lambda x: x.relu(),
    "sigmoid": lambda x: x.sigmoid(),
}


def _tensor_funcs() -> dict[str, Callable[..., Any]]:
    from .ops import elementwise as ew
    from .ops import reduce as rd

    return {
        "tanh": ew.tanh, "exp": ew.exp, "log": ew.log, "sqrt": ew.sqrt, "abs": ew.abs,
        "sin": ew.sin, "cos": ew.cos, "sigmoid": ew.sigmoid, "relu": ew.relu,
        "leaky_relu": ew.leaky_relu, "softplus": ew.softplus, "maximum": ew.maximum,
        "minimum": ew.minimum, "sum": rd.sum, "mean": rd.mean, "max": rd.max, "min": rd.min,
        "var": rd.var, "logsumexp": rd.logsumexp, "softmax": rd.softmax,
        "log_softmax": rd.log_softmax,
    }


_TENSOR_FUNC_NAMES = ("tanh", "exp", "log", "sqrt", "abs", "sin", "cos", "sigmoid", "relu",
                      "leaky_relu", "softplus", "maximum", "minimum", "sum", "mean", "max",
                      "min", "var", "logsumexp", "softmax", "log_softmax")
_KEYWORDS = ("axis", "keepdims", "slope", "ddof")
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow, ast.MatMult: operator.matmul,
}
_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
            ast.MatMult: "@"}


class ExpressionError(ValueError):
    """The expression given to ``graph`` is not in the small allowed language."""


_ALLOWED = "names, numbers, + - * / ** @, unary - and +, and calls of " + ", ".join(
    _TENSOR_FUNC_NAMES)


def _literal(node: ast.AST) -> Any:
    """A keyword argument's value: a number, True/False, or a tuple of ints."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(
            node.operand, ast.Constant) and isinstance(node.operand.value, (int, float)):
        return -node.operand.value
    if isinstance(node, ast.Tuple):
        return tuple(_literal(e) for e in node.elts)
    raise ExpressionError(f"keyword values must be numbers or tuples of numbers "
                          f"(column {getattr(node, 'col_offset', 0) + 1})")


def parse_expression(expr: str) -> tuple[ast.Expression, list[str]]:
    """Parse ``expr`` and check it uses only the allowed syntax; returns the tree and the
    input names in order of first use. Nothing is ever evaluated as Python."""
    if len(expr) > 10_000:
        raise ExpressionError("the expression is too long (more than 10,000 characters)")
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse {expr!r}: {exc.msg} (column {exc.offset})"
                              ) from None
    except (RecursionError, MemoryError):
        raise ExpressionError("the expression is nested too deeply") from None
    names: dict[str, None] = {}
    funcs: set[int] = set()
    stack: list[ast.AST] = [tree.body]
    while stack:
        n = stack.pop()
        col = getattr(n, "col_offset", 0) + 1
        if isinstance(n, ast.BinOp):
            if type(n.op) not in _BINOPS:
                raise ExpressionError(f"operator {type(n.op).__name__} at column {col} is not "
                                      f"allowed; allowed: {_ALLOWED}")
            stack += [n.right, n.left]
        elif isinstance(n, ast.UnaryOp):
            if not isinstance(n.op, (ast.USub, ast.UAdd)):
                raise ExpressionError(f"unary {type(n.op).__name__} at column {col} is not "
                                      f"allowed; allowed: {_ALLOWED}")
            stack.append(n.operand)
        elif isinstance(n, ast.Constant):
            if isinstance(n.value, bool) or not isinstance(n.value, (int, float)):
                raise ExpressionError(f"only numbers are allowed as constants, got "
                                      f"{n.value!r} at column {col}")
        elif isinstance(n, ast.Name):
            if id(n) not in funcs:
                names.setdefault(n.id, None)
        elif isinstance(n, ast.Call):
            if not isinstance(n.func, ast.Name) or n.func.id not in _TENSOR_FUNC_NAMES:
                what = n.func.id if isinstance(n.func, ast.Name) else type(n.func).__name__
                raise ExpressionError(f"call of {what!r} at column {col} is not allowed; "
                                      f"functions: {', '.join(_TENSOR_FUNC_NAMES)}")
            funcs.add(id(n.func))
            for kw in n.keywords:
                if kw.arg not in _KEYWORDS:
                    raise ExpressionError(f"keyword {kw.arg!r} of {n.func.id} is not allowed; "
                                          f"keywords: {', '.join(_KEYWORDS)}")
                _literal(kw.value)
            stack += list(reversed(n.args))
        else:
            raise ExpressionError(f"{type(n).__name__} at column {col} is not allowed; "
                                  f"allowed: {_ALLOWED}")
    return tree, list(names)


def _evaluate(node: ast.AST, env: Mapping[str, Any], funcs: Mapping[str, Callable]) -> Any:
    if isinstance(node, ast.BinOp):
        a = _evaluate(node.left, env, funcs)
        b = _evaluate(node.right, env, funcs)
        if isinstance(node.op, ast.Pow) and isinstance(a, Value) and isinstance(b, Value):
            raise ExpressionError("Value ** Value is not supported: the exponent of a scalar "
                                  "Value must be a number (use --tensor for tensor powers)")
        if isinstance(node.op, ast.Pow) and isinstance(b, Value):
            raise ExpressionError("number ** Value is not supported for scalar Values; use "
                                  "exp(log(a) * x) or --tensor")
        try:
            return _BINOPS[type(node.op)](a, b)
        except TypeError as exc:
            raise ExpressionError(f"{_SYMBOLS[type(node.op)]}: {exc}") from None
    if isinstance(node, ast.UnaryOp):
        x = _evaluate(node.operand, env, funcs)
        return -x if isinstance(node.op, ast.USub) else x
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.Call):
        name = node.func.id  # type: ignore[attr-defined]
        fn = funcs.get(name)
        if fn is None:
            raise ExpressionError(f"{name}() needs tensor inputs; pass --tensor or --shape "
                                  f"(scalar Values support {', '.join(_VALUE_FUNCS)})")
        args = [_evaluate(a, env, funcs) for a in node.args]
        kwargs = {kw.arg: _literal(kw.value) for kw in node.keywords}
        try:
            return fn(*args, **kwargs)
        except (TypeError, ValueError) as exc:
            raise ExpressionError(f"{name}(): {exc}") from None
    raise ExpressionError(f"{type(node).__name__} is not allowed")


def _pairs(items: Sequence[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, val = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier() or not val.strip():
            raise ExpressionError(f"--{what} expects NAME=VALUE, got {item!r}")
        out[name] = val.strip()
    return out


def _parse_shape(name: str, text: str) -> tuple[int, ...]:
    if text in ("()", "scalar"):
        return ()
    try:
        shape = tuple(int(s) for s in text.lower().replace(",", "x").split("x") if s)
    except ValueError:
        shape = ()
    if not shape or any(s < 1 for s in shape):
        raise ExpressionError(f"--shape {name}={text}: expected sizes like 3x4 (or '()')")
    return shape


def _parse_numbers(name: str, text: str) -> np.ndarray:
    try:
        return np.array([float(s) for s in text.split(",")], dtype=np.float64)
    except ValueError:
        raise ExpressionError(f"--var {name}={text}: expected a number or comma-separated "
                              "numbers") from None


def build_expression_graph(expr: str, variables: Mapping[str, str] | None = None,
                           shapes: Mapping[str, str] | None = None, tensor: bool = False,
                           seed: int = 0) -> tuple[Any, list[Any]]:
    """Evaluate ``expr`` over named inputs (scalar Values, or Tensors with ``tensor`` or
    any shape given), run backward, and return (output, inputs). Unbound inputs get
    seeded random normal values."""
    variables = dict(variables or {})
    shapes = {k: _parse_shape(k, v) for k, v in (shapes or {}).items()}
    tree, names = parse_expression(expr)
    for k in list(variables) + list(shapes):
        if k not in names:
            raise ExpressionError(f"{k!r} is not an input of the expression (inputs: "
                                  f"{', '.join(names) or 'none'})")
    if not names:
        raise ExpressionError("the expression has no inputs: use names such as x, w, b")
    rng = np.random.default_rng(seed)
    tensor = tensor or bool(shapes)
    env: dict[str, Any] = {}
    for name in names:
        shape = shapes.get(name, ())
        if name in variables:
            nums = _parse_numbers(name, variables[name])
        else:
            nums = np.round(rng.standard_normal(max(1, math.prod(shape))), 4)
        if not tensor:
            if nums.size != 1:
                raise ExpressionError(f"--var {name}: scalar Values take one number; use "
                                      "--tensor or --shape for tensors")
            env[name] = Value(float(nums[0]), label=name)
            continue
        if nums.size == 1:
            arr = np.full(shape, nums[0])
        elif nums.size == math.prod(shape) or (name not in shapes):
            arr = nums.reshape(shape) if name in shapes else nums
        else:
            raise ExpressionError(f"--var {name}: {nums.size} numbers do not fill shape "
                                  f"{shape}")
        env[name] = Tensor(arr.astype(np.float32), requires_grad=True, name=name)
    funcs = _tensor_funcs() if tensor else _VALUE_FUNCS
    try:
        out = _evaluate(tree.body, env, funcs)
    except RecursionError:
        raise ExpressionError("the expression is nested too deeply") from None
    if isinstance(out, Value):
        out.backward()
    elif isinstance(out, Tensor):
        out.backward(np.ones(out.shape, out.dtype), retain_graph=True)
    else:
        raise ExpressionError("the expression does not depend on its inputs")
    return out, [env[n] for n in names]


def graph_main(argv: Sequence[str] | None = None) -> int:
    """``python -m autograd graph EXPR -o FILE``: draw the graph of an expression.

    Returns the exit status: 0 on success, 1 when rendering failed (no ``dot``), 2 for
    a bad command line or expression.
    """
    p = argparse.ArgumentParser(
        prog="python -m autograd graph",
        description="Draw the computation graph of an expression such as 'tanh(x*w + b)' "
                    "after backward. Allowed: " + _ALLOWED + ".")
    p.add_argument("expr", help="the expression, e.g. 'tanh(x*w + b)'")
    p.add_argument("-o", "--output", default="graph.svg",
                   help="output file; the suffix picks the format (.svg .png .pdf .dot); "
                        "'-' prints DOT source (default: graph.svg)")
    p.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                   help="bind an input to a number (tensors: comma-separated numbers)")
    p.add_argument("--shape", action="append", default=[], metavar="NAME=SHAPE",
                   help="make an input a tensor of this shape, e.g. x=3x4")
    p.add_argument("--tensor", action="store_true",
                   help="use Tensors instead of scalar Values")
    p.add_argument("--rankdir", default="LR", choices=["LR", "TB", "RL", "BT"])
    p.add_argument("--seed", type=int, default=0, help="seed for unbound inputs")
    p.add_argument("--grad-flow", action="store_true", help="colour by gradient magnitude")
    p.add_argument("--no-data", action="store_true", help="hide values")
    p.add_argument("--no-grad", action="store_true", help="hide gradients")
    try:
        args = p.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        out, _ = build_expression_graph(args.expr, _pairs(args.var, "var"),
                                        _pairs(args.shape, "shape"), args.tensor, args.seed)
    except ExpressionError as exc:
        print(f"graph: {exc}", file=sys.stderr)
        return 2
    g = draw_graph(out, rankdir=args.rankdir, show_data=not args.no_data,
                   show_grad=not args.no_grad, grad_flow=args.grad_flow)
    if args.output == "-":
        sys.stdout.write(g.source)
        return 0
    try:
        path = save(g, args.output)
    except GraphvizNotFound as exc:
        print(f"graph: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"graph: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0
