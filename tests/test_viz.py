"""Graph drawing: structure (node and edge counts), labels, escaping checked by really
rendering with Graphviz, module clusters, gradient-flow colours, max_nodes, the
missing-dot message, saving, and the command line."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd
from autograd import Function, Tensor, Value, draw_dot, draw_graph
from autograd.engine import scope
from autograd.viz import (
    GRAD_PALETTE,
    GraphDrawing,
    GraphvizNotFound,
    _Scale,
    grad_color,
    grad_magnitudes,
    graph_main,
    save,
)

ROOT = Path(__file__).resolve().parents[1]
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot program is not installed")


# -- a small reader of the DOT that draw_graph writes (one statement per line) ----------

NODE = re.compile(r"^\s*(n\d+|hidden|legend) \[(.*)\]$")
EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[.*\])?$")


def nodes_of(g) -> dict[str, str]:
    """node id -> its attribute text."""
    out = {}
    for line in g.source.splitlines():
        m = NODE.match(line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def edges_of(g) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in map(EDGE.match, g.source.splitlines()) if m]


def graph_nodes(g) -> dict[str, str]:
    """Only the graph's own nodes (no summary or legend)."""
    return {k: v for k, v in nodes_of(g).items() if k.startswith("n")}


def attr(attrs: str, name: str) -> str | None:
    m = re.search(rf'(?:^| ){name}=("(?:[^"\\]|\\.)*"|[^ ]+)', attrs)
    if m is None:
        return None
    v = m.group(1)
    return v[1:-1] if v.startswith('"') else v


def clusters_of(g) -> tuple[dict[str, str], dict[str, list[str]], dict[str, str | None]]:
    """(cluster label by cluster, enclosing clusters (outermost first) by node id,
    parent cluster by cluster)."""
    labels: dict[str, str] = {}
    parents: dict[str, str | None] = {}
    where: dict[str, list[str]] = {}
    stack: list[str] = []
    for line in g.source.splitlines():
        m = re.match(r"^\s*subgraph (cluster_\d+) \{$", line)
        if m:
            parents[m.group(1)] = stack[-1] if stack else None
            stack.append(m.group(1))
            continue
        if line.strip() == "}" and stack:
            stack.pop()
            continue
        lab = re.match(r"^\s*graph \[.*label=<<B>(.*?)</B>>", line)
        if lab and stack and stack[-1] not in labels:
            labels[stack[-1]] = lab.group(1)
            continue
        n = NODE.match(line)
        if n:
            where[n.group(1)] = list(stack)
    return labels, where, parents


def node_with(g, text: str) -> str:
    """The id of the one node whose label contains ``text``."""
    hits = [k for k, v in nodes_of(g).items() if text in v]
    assert len(hits) == 1, (text, hits)
    return hits[0]


def dot_check(source: str, fmt: str = "svg") -> str:
    """Run the real dot program; it must accept the source without a word of complaint."""
    r = subprocess.run(["dot", f"-T{fmt}"], input=source.encode("utf-8"),
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stderr.decode().strip() == "", r.stderr.decode()
    return r.stdout.decode("utf-8")


def svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [el.text or "" for el in root.iter() if el.tag.endswith("}text")]


# -- Value graphs ------------------------------------------------------------------------


def micrograd_neuron() -> Value:
    x1 = Value(2.0, label="x1")
    x2 = Value(0.0, label="x2")
    w1 = Value(-3.0, label="w1")
    w2 = Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    s = x1w1 + x2w2
    s.label = "x1*w1 + x2*w2"
    n = s + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    return o


def test_micrograd_neuron_structure_and_labels():
    o = micrograd_neuron()
    o.backward()
    g = draw_graph(o)
    nodes = graph_nodes(g)
    # 10 values, 5 ops (*, *, +, +, tanh); 9 input edges + 5 output edges
    assert len(nodes) == 15
    assert len(edges_of(g)) == 14
    ops = sorted(attr(a, "label") for a in nodes.values() if "shape=circle" in a)
    assert ops == ["<*>", "<*>", "<+>", "<+>", "<tanh>"]
    # micrograd's numbers: do/dx1 = w1 * (1 - o^2) = -1.5, do/dw1 = 1, do/dx2 = 0.5, do/dw2 = 0
    expect = {"x1": ("2.0000", "-1.5000"), "w1": ("-3.0000", "1.0000"),
              "x2": ("0.0000", "0.5000"), "w2": ("1.0000", "0.0000"),
              "o": ("0.7071", "1.0000"), "n": ("0.8814", "0.5000")}
    for name, (data, grad) in expect.items():
        a = nodes[node_with(g, f"<B>{name}</B></TD>")]
        assert f"data {data}" in a and f"grad {grad}" in a
    # the edges go x1 -> * -> x1*w1
    x1, mul, prod = node_with(g, "<B>x1</B>"), None, node_with(g, "<B>x1*w1</B>")
    for src, dst in edges_of(g):
        if src == x1:
            mul = dst
    assert (mul, prod) in edges_of(g)
    assert draw_dot is draw_graph


def test_value_show_flags_and_constants():
    x = Value(3.0, label="x")
    y = (x * 0.5 + 1) ** 2
    y.backward()
    g = draw_graph(y, show_data=False, show_grad=False)
    src = g.source
    assert "<TD>data" not in src and "<TD>grad" not in src
    # x, 0.5, x*0.5, 1, sum, y: six values; *, +, **2: three ops
    assert len(graph_nodes(g)) == 9
    assert len(edges_of(g)) == 8
    assert "<**2>" in src


# -- Tensor graphs -----------------------------------------------------------------------


def small_net():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((1, 3)), name="x")
    W = Tensor(rng.standard_normal((3, 2)), requires_grad=True, name="W")
    b = Tensor(np.zeros(2), requires_grad=True, name="b")
    y = (x @ W + b).tanh() * 0.5
    loss = y.sum()
    return x, W, b, y, loss


def test_tensor_graph_counts_labels_and_constant():
    x, W, b, y, loss = small_net()
    g = draw_graph(loss)
    nodes = graph_nodes(g)
    # data: x, W, b, x@W, +b, tanh, *0.5, sum = 8; ops: MatMul, Add, Tanh, Mul, Sum = 5;
    # constant 0.5 = 1
    assert len(nodes) == 14
    # each op: one edge per input (2+2+1+2+1) and one to its output (5)
    assert len(edges_of(g)) == 13
    op_names = sorted(attr(a, "label") for a in nodes.values() if "shape=ellipse" in a)
    assert op_names == ["<Add>", "<MatMul>", "<Mul>", "<Sum>", "<Tanh>"]
    const = nodes[node_with(g, "label=<0.5>")]
    assert "dashed" in attr(const, "style")
    assert (node_with(g, "label=<0.5>"), node_with(g, "label=<Mul>")) in edges_of(g)
    w = nodes[node_with(g, "<B>W</B>")]
    assert "(3, 2) float64" in w
    # small tensors show their values
    assert "data [0, 0]" in html.unescape(nodes[node_with(g, "<B>b</B>")])
    # a leaf that does not require grad is dashed, a parameter is blue, the root green
    assert "dashed" in attr(nodes[node_with(g, "<B>x</B>")], "style")
    assert attr(w, "fillcolor") == "#dbeafe"
    assert attr(nodes["n0"], "fillcolor") == "#dcfce7"


def test_after_backward_the_freed_graph_still_draws_with_grads():
    x, W, b, y, loss = small_net()
    before = draw_graph(loss)
    loss.backward()
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()  # the saved buffers really are freed
    after = draw_graph(loss)
    assert len(graph_nodes(after)) == len(graph_nodes(before))
    assert len(edges_of(after)) == len(edges_of(before))
    wnode = graph_nodes(after)[node_with(after, "<B>W</B>")]
    expected = np.array2string(W.grad.data, separator=", ",
                               formatter={"float_kind": lambda v: f"{v:.4g}"})
    assert "grad " + expected.replace("\n", "<BR/>") in html.unescape(wnode)


def test_large_tensors_show_shape_and_grad_norm_only():
    W = Tensor(np.full((10, 10), 2.0), requires_grad=True, name="big")
    loss = (W * 3.0).sum()
    loss.backward()
    g = draw_graph(loss)
    a = graph_nodes(g)[node_with(g, "<B>big</B>")]
    assert "(10, 10) float64" in a and "data" not in a
    assert "grad norm 30" in a  # sqrt(100 * 3^2)


def test_params_name_tensors():
    x, W, b, y, loss = small_net()
    g = draw_graph(loss, params={"layer.weight": W, "layer.bias": b})
    src = g.source
    assert "<B>layer.weight</B>" in src and "<B>layer.bias</B>" in src
    assert "<B>W</B>" not in src
    with pytest.raises(TypeError, match="params"):
        draw_graph(loss, params={"w": np.zeros(2)})


def test_ndarray_constant_and_multi_output_op():
    class Split(Function):
        @staticmethod
        def forward(ctx, x):
            return x[:2].copy(), x[2:].copy()

        @staticmethod
        def backward(ctx, ga, gb):
            return autograd.concatenate([ga, gb])

    x = Tensor(np.arange(4.0), requires_grad=True, name="x")
    a, b = Split.apply(x)
    out = (a * np.array([1.0, 2.0])).sum() + b.sum()
    out.backward()
    g = draw_graph(out)
    split = node_with(g, "label=<Split>")
    outs = [dst for src, dst in edges_of(g) if src == split]
    assert len(outs) == 2  # one data node per output
    assert "label=<[1, 2]>" in html.unescape(g.source)  # the raw array constant
    assert len(graph_nodes(g)) == 13


def test_several_roots_and_bad_arguments():
    x = Tensor(np.ones(2), requires_grad=True, name="x")
    a, b = x.exp(), x.sin()
    g = draw_graph(a, b)
    assert len(graph_nodes(g)) == 5
    assert len(draw_graph([a, b]).source) == len(g.source)
    with pytest.raises(TypeError, match="roots"):
        draw_graph(np.ones(2))
    with pytest.raises(ValueError, match="at least one"):
        draw_graph()
    with pytest.raises(ValueError, match="rankdir"):
        draw_graph(a, rankdir="sideways")
    with pytest.raises(ValueError, match="max_nodes"):
        draw_graph(a, max_nodes=0)
    assert "rankdir=TB" in draw_graph(a, rankdir="TB").source


# -- big graphs and max_nodes --------------------------------------------------------------


def chain(n: int) -> tuple[Tensor, Tensor]:
    x = Tensor(np.array([0.5]), requires_grad=True, name="start")
    y = x
    for _ in range(n):
        y = y.tanh()
    return x, y


def test_ten_thousand_node_graph_draws_without_recursion():
    x, y = chain(5000)
    g = draw_graph(y)
    assert len(graph_nodes(g)) == 10_001
    assert len(edges_of(g)) == 10_000
    assert "<B>start</B>" in g.source


def test_max_nodes_keeps_the_part_nearest_the_root():
    x, y = chain(5000)
    g = draw_graph(y, max_nodes=100)
    nodes = nodes_of(g)
    assert len(graph_nodes(g)) == 100
    assert "\u2026 9,901 more nodes" in nodes["hidden"]
    assert "<B>start</B>" not in g.source  # the far end is summarized
    assert attr(nodes["n0"], "fillcolor") == "#dcfce7"  # the root is kept
    e = edges_of(g)
    assert len(e) == 99 + 1 and ("hidden", "n99") in e
    # a highlighted vertex beyond the cut is kept too
    g2 = draw_graph(y, max_nodes=100, highlight=[x])
    assert "<B>start</B>" in g2.source and len(graph_nodes(g2)) == 101
    # nothing summarized when the graph fits
    assert "hidden" not in nodes_of(draw_graph(y, max_nodes=10_001))


@needs_dot
def test_max_nodes_renders():
    x, y = chain(2000)
    dot_check(draw_graph(y, max_nodes=60).source)


# -- escaping ------------------------------------------------------------------------------

NASTY = ['say "hi"', "<b>not bold</b>", "{a|b}", "back\\slash \\N \\G \\L", "two\nlines",
         "amp & &amp; &#x41;", "]]> <!-- -->", "ctl\x00\x01\x1f", "tab\there", "é ünï 中文 🙂",
         "'single'", "lone \ud800 surrogate", "\ufffe\uffff", "x" * 200, "", " ", "}", "]"]


def shown(name: str) -> str:
    """What the drawing shows for a name: controls as escapes, long names cut."""
    if len(name) > 60:
        name = name[:59] + "\u2026"
    out = []
    for c in name:
        o = ord(c)
        if c in "\t":
            out.append(" ")
        elif c in "\n\r":
            out.append(c)
        elif o < 0x20 or 0xD800 <= o <= 0xDFFF or o in (0xFFFE, 0xFFFF):
            out.append(f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}")
        else:
            out.append(c)
    return "".join(out)


def nasty_graph(names):
    ts = [Tensor(np.ones(2), requires_grad=True, name=n) for n in names]
    out = ts[0]
    for t in ts[1:]:
        out = out + t
    s = out.sum()
    s.name = names[0]
    with scope(names[-1]):
        s2 = s * 2.0
    return s2, ts


def test_escaping_builds_html_labels():
    s2, ts = nasty_graph(NASTY)
    g = draw_graph(s2, group_modules=True, grad_flow=True,
                   params={n + "!": t for n, t in zip(NASTY, ts)})
    for line in g.source.splitlines():
        if "label=<" in line:
            assert line.count("<") == line.count(">")  # balanced: no raw < or > from names


@needs_dot
def test_nasty_names_render_with_dot():
    s2, ts = nasty_graph(NASTY)
    s2.backward()
    g = draw_graph(s2, group_modules=True)
    texts = "\n".join(svg_texts(dot_check(g.source)))
    for name in NASTY:
        for part in shown(name).split("\n"):
            if part.strip():
                assert part.strip() in texts, part
    # the same through params, and with a Value label
    v = Value(1.0, label='v "<{|}>\\')
    w = (v * 2).tanh()
    dot_check(draw_graph(w, params={"a<b>\n": v}).source)


@needs_dot
@settings(deadline=None, max_examples=25)
@given(st.lists(st.text(max_size=25) | st.text(alphabet='<>{}|\\"\'&[]\n\r\t#;-!NGLl x\x00',
                                              max_size=25), min_size=1, max_size=3))
def test_any_name_renders(names):
    s2, ts = nasty_graph(names)
    svg = dot_check(draw_graph(s2, group_modules=True).source)
    texts = "\n".join(svg_texts(svg))
    for name in names:
        for part in shown(name).split("\n"):
            # dot collapses runs of spaces; compare word by word
            for word in part.split():
                assert word in texts, (name, word)


# -- module clusters -----------------------------------------------------------------------


def scoped_mlp():
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((4, 2)), name="x")
    W1 = Tensor(rng.standard_normal((2, 3)), requires_grad=True, name="W1")
    b1 = Tensor(np.zeros(3), requires_grad=True, name="b1")
    W2 = Tensor(rng.standard_normal((3, 1)), requires_grad=True, name="W2")
    with scope("net: MLP"):
        with scope("fc1: Linear"):
            h = x @ W1 + b1
        with scope("act: ReLU"):
            h = h.relu()
        with scope("fc2: Linear"):
            out = h @ W2
    loss = (out * out).mean()
    return loss


def test_group_modules_draws_nested_labelled_clusters():
    loss = scoped_mlp()
    g = draw_graph(loss, group_modules=True)
    labels, where, parents = clusters_of(g)
    assert sorted(labels.values()) == ["act: ReLU", "fc1: Linear", "fc2: Linear", "net: MLP"]
    by_label = {v: k for k, v in labels.items()}
    net = by_label["net: MLP"]
    for inner in ("fc1: Linear", "act: ReLU", "fc2: Linear"):
        assert parents[by_label[inner]] == net

    def box(text):
        stack = where[node_with(g, text)]
        return labels[stack[-1]] if stack else None

    matmuls = [k for k, v in graph_nodes(g).items() if "label=<MatMul>" in v]
    assert sorted(labels[where[k][-1]] for k in matmuls) == ["fc1: Linear", "fc2: Linear"]
    assert box("<B>W1</B>") == "fc1: Linear" and box("<B>b1</B>") == "fc1: Linear"
    assert box("<B>W2</B>") == "fc2: Linear"
    assert box("label=<Relu>") == "act: ReLU"
    assert box("<B>x</B>") is None  # the input does not belong to a module
    assert box("label=<Sum>") is None  # the loss was computed outside the model
    assert where[node_with(g, "label=<Relu>")][0] == net
    assert "cluster" not in draw_graph(loss).source


@needs_dot
def test_clusters_render():
    dot_check(draw_graph(scoped_mlp(), group_modules=True, grad_flow=True).source)


def test_nn_mlp_reads_as_layers():
    nn = pytest.importorskip("nn")
    if not hasattr(nn, "MLP"):
        pytest.skip("nn.MLP is not there")
    model = nn.MLP([2, 4, 1], activation="tanh", rng=0)
    x = Tensor(np.ones((3, 2), dtype=np.float32), name="x")
    loss = (model(x) ** 2).mean()
    g = draw_graph(loss, params=dict(model.named_parameters()), group_modules=True)
    labels, where, _ = clusters_of(g)
    assert len([lab for lab in labels.values() if "Linear" in lab]) == 2
    for name, _p in model.named_parameters():
        stack = where[node_with(g, f"<B>{name}</B>")]
        assert stack and "Linear" in labels[stack[-1]]


# -- gradient flow -------------------------------------------------------------------------


def fill_index(attrs: str) -> int:
    return GRAD_PALETTE.index(attr(attrs, "fillcolor"))


def tooltip_mag(attrs: str) -> float:
    return float(attr(attrs, "tooltip").split("=")[1])


@settings(deadline=None, max_examples=60)
@given(st.lists(st.floats(1e-300, 1e300), min_size=1, max_size=20))
def test_colour_scale_is_monotone(mags):
    scale = _Scale(mags)
    cols = sorted((m, GRAD_PALETTE.index(grad_color(m, scale)[0])) for m in mags)
    idx = [c for _, c in cols]
    assert idx == sorted(idx)
    # the largest magnitude always gets the brightest colour
    assert idx[-1] == len(GRAD_PALETTE) - 1
    # a gradient over ten times larger gets a strictly brighter colour, unless the
    # smaller one is already at the darkest
    for m1, i1 in cols:
        for m2, i2 in cols:
            if m2 > 10.5 * m1 and i1 > 0:
                assert i2 > i1


def test_grad_flow_colours_follow_gradient_magnitude():
    coeffs = [1e-9, 3e-7, 1e-5, 2e-4, 5e-3, 0.1, 1.0, 30.0, 1e3]
    ws = [Tensor(np.ones(3), requires_grad=True, name=f"w{i}") for i in range(len(coeffs))]
    loss = sum(((w * c).sum() for w, c in zip(ws, coeffs)), Tensor(0.0))
    g = draw_graph(loss, grad_flow=True)
    nodes = graph_nodes(g)
    found = []
    for i, c in enumerate(coeffs):
        a = nodes[node_with(g, f"<B>w{i}</B>")]
        assert tooltip_mag(a) == pytest.approx(c, rel=1e-6)  # d loss / d w_i = c_i
        found.append(fill_index(a))
    assert found == sorted(found)  # larger gradient, never an earlier (darker) colour
    assert found[-1] == len(GRAD_PALETTE) - 1 and found[0] == 0
    assert len(set(found)) >= 6
    assert "mean |grad| (log scale)" in nodes_of(g)["legend"]
    # every coloured node, not only the leaves, respects the order
    pairs = sorted((tooltip_mag(a), fill_index(a)) for a in nodes.values()
                   if attr(a, "tooltip") and attr(a, "fillcolor") in GRAD_PALETTE)
    assert [i for _, i in pairs] == sorted(i for _, i in pairs)


def test_grad_flow_leaves_grads_and_hooks_alone():
    x, W, b, y, loss = small_net()
    seen = []
    y.register_hook(lambda gr: seen.append(1))
    y.retain_grad()
    g = draw_graph(loss, grad_flow=True)
    assert W.grad is None and y.grad is None and not seen
    # the fresh pass gave intermediates their magnitudes: d loss / d y = 1 everywhere
    ones = [a for a in graph_nodes(g).values() if "mean |grad| 1.00e+00" in a]
    assert len(ones) == 2  # y and the loss
    mags = grad_magnitudes(loss)
    assert mags[y] == pytest.approx(1.0)
    loss.backward()
    assert W.grad is not None and len(seen) == 1  # the graph still works as usual
    np.testing.assert_allclose(mags[W], np.abs(W.grad.data).mean())


def test_grad_flow_after_freeing_uses_existing_grads():
    x, W, b, y, loss = small_net()
    loss.backward()
    g = draw_graph(loss, grad_flow=True)
    nodes = graph_nodes(g)
    assert attr(nodes[node_with(g, "<B>W</B>")], "fillcolor") in GRAD_PALETTE
    assert attr(nodes[node_with(g, "<B>b</B>")], "fillcolor") in GRAD_PALETTE
    # intermediate tensors have no gradient left: uncoloured, and the legend says why
    whites = [a for a in nodes.values()
              if "shape=box" in a and attr(a, "fillcolor") == "white" and "dashed" not in a]
    assert len(whites) == 4  # x@W, +b, tanh, *0.5
    assert "not available" in nodes_of(g)["legend"]


def test_grad_flow_zero_gradient_is_grey():
    w = Tensor(np.array([1.0, -1.0]), requires_grad=True, name="w")
    loss = w.relu().sum() * 0.0 + w.sum()
    g = draw_graph(loss, grad_flow=True)
    assert "0 (no gradient)" in nodes_of(g)["legend"]


def test_grad_flow_on_values_restores_grads():
    o = micrograd_neuron()
    g = draw_graph(o, grad_flow=True)
    nodes = graph_nodes(g)
    x1 = nodes[node_with(g, "<B>x1</B>")]
    assert tooltip_mag(x1) == pytest.approx(1.5)
    assert "grad 0.0000" in x1  # backward was never called: grads untouched
    w2 = nodes[node_with(g, "<B>w2</B>")]
    assert attr(w2, "fillcolor") == "#d4d4d4"  # no gradient reaches w2 (x2 = 0)


def deep_mlp(act: str, depth: int = 10, width: int = 32):
    rng = np.random.default_rng(0)
    h = Tensor(rng.standard_normal((16, width)))
    ws = []
    for i in range(depth):
        gain = 2.0 if act == "relu" else 1.0
        W = Tensor(rng.standard_normal((width, width)) * np.sqrt(gain / width),
                   requires_grad=True, name=f"W{i}")
        ws.append(W)
        h = h @ W
        h = h.relu() if act == "relu" else h.sigmoid()
    return (h * h).mean(), ws


def test_deep_sigmoid_vanishes_where_relu_does_not():
    ratios = {}
    colours = {}
    for act in ("sigmoid", "relu"):
        loss, ws = deep_mlp(act)
        mags = grad_magnitudes(loss)
        ratios[act] = mags[ws[0]] / mags[ws[-1]]
        g = draw_graph(loss, grad_flow=True)
        colours[act] = [fill_index(graph_nodes(g)[node_with(g, f"<B>W{i}</B>")])
                        for i in (0, len(ws) - 1)]
    # sigmoid' <= 1/4 per layer: the first layer's gradient is many decades smaller
    assert ratios["sigmoid"] < 1e-4
    assert 0.1 < ratios["relu"] < 10
    assert colours["sigmoid"][1] - colours["sigmoid"][0] >= 5
    assert abs(colours["relu"][1] - colours["relu"][0]) <= 1


# -- highlight -------------------------------------------------------------------------------


def test_highlight_marks_the_given_tensor_and_op():
    x, W, b, y, loss = small_net()
    g = draw_graph(loss, highlight=[W, y.grad_fn])
    red = [k for k, a in graph_nodes(g).items() if attr(a, "color") == "#dc2626"]
    assert sorted(red) == sorted([node_with(g, "<B>W</B>"), node_with(g, "label=<Mul>")])
    v = micrograd_neuron()
    gv = draw_graph(v, highlight=[v])
    assert len([a for a in graph_nodes(gv).values() if "penwidth=3" in a]) == 2  # o, tanh
    with pytest.raises(TypeError, match="highlight"):
        draw_graph(loss, highlight=["W"])


# -- saving, rendering, notebooks, missing dot ----------------------------------------------


def test_save_dot_and_unknown_suffix(tmp_path):
    g = draw_graph(micrograd_neuron())
    p = save(g, tmp_path / "g.dot")
    assert p.read_text(encoding="utf-8") == g.source
    assert g.save(str(tmp_path / "h.gv")) == str(tmp_path / "h.gv")
    with pytest.raises(ValueError, match="suffix"):
        save(g, tmp_path / "g.docx")
    assert isinstance(g, GraphDrawing)


@needs_dot
def test_save_renders_by_suffix(tmp_path):
    x, W, b, y, loss = small_net()
    g = draw_graph(loss)
    assert (save(g, tmp_path / "a.png")).read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "b.pdf") == save(g, tmp_path / "b.pdf")
    assert (tmp_path / "b.pdf").read_bytes().startswith(b"%PDF")
    g.save(tmp_path / "c.svg")
    assert "<svg" in (tmp_path / "c.svg").read_text()
    out = g.render(tmp_path / "d.gv", format="svg")  # graphviz's own render still works
    assert Path(out).read_text().count("<svg") == 1
    bundle = g._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")


def test_missing_dot_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no dot anywhere
    g = draw_graph(micrograd_neuron())
    assert "digraph" in g.source  # building works
    save(g, tmp_path / "ok.dot")  # and so does DOT output
    for attempt in (lambda: save(g, tmp_path / "x.svg"), lambda: g.pipe(format="svg"),
                    lambda: g.render(tmp_path / "y.gv", format="png")):
        with pytest.raises(GraphvizNotFound) as info:
            attempt()
        msg = str(info.value)
        assert isinstance(info.value, RuntimeError)
        for hint in ("apt-get install graphviz", "brew install graphviz",
                     "conda install -c conda-forge graphviz", "winget install graphviz",
                     "dnf install graphviz", ".dot"):
            assert hint in msg
    assert not (tmp_path / "x.svg").exists()
    bundle = g._repr_mimebundle_()
    assert list(bundle) == ["text/plain"] and "brew install graphviz" in bundle["text/plain"]


# -- command line ----------------------------------------------------------------------------


def test_graph_main_value_expression(tmp_path, capsys):
    out = tmp_path / "g.dot"
    rc = graph_main(["tanh(x*w + b)", "-o", str(out), "--var", "x=0.5", "--var", "w=-2",
                     "--var", "b=1"])
    assert rc == 0
    src = out.read_text()
    # x*w + b = 0, so d/dx = w = -2, d/dw = x = 0.5, d/db = 1
    assert "<B>x</B></TD><VR/><TD>data 0.5000</TD><VR/><TD>grad -2.0000" in src
    assert "<B>w</B></TD><VR/><TD>data -2.0000</TD><VR/><TD>grad 0.5000" in src
    assert "<B>b</B></TD><VR/><TD>data 1.0000</TD><VR/><TD>grad 1.0000" in src
    assert src.count("shape=circle") == 3
    assert str(out) in capsys.readouterr().out


def test_graph_main_tensor_expression(capsys):
    rc = graph_main(["sum(tanh(x @ w)) * 0.5", "--shape", "x=3x4", "--shape", "w=4x2",
                     "-o", "-", "--rankdir", "TB", "--grad-flow"])
    assert rc == 0
    src = capsys.readouterr().out
    assert "(3, 4) float32" in src and "(4, 2) float32" in src and "rankdir=TB" in src
    for op in ("MatMul", "Tanh", "Sum", "Mul"):
        assert f"label=<{op}>" in src
    assert "legend" in src


@pytest.mark.parametrize("expr, message", [
    ("__import__('os').system('true')", "not allowed"),
    ("x.real", "Attribute"),
    ("(lambda: 1)()", "not allowed"),
    ("x if x else x", "IfExp"),
    ("x + 's'", "numbers"),
    ("open(x)", "'open'"),
    ("x[0]", "Subscript"),
    ("x +", "cannot parse"),
    ("sum(x)", "needs tensor inputs"),
    ("2 ** x", "not supported"),
    ("1 + 2", "no inputs"),
    ("x // 2", "FloorDiv"),
    ("sum(x, axis=__name__)", "keyword values"),
])
def test_graph_main_rejects_anything_else(expr, message, capsys, tmp_path):
    rc = graph_main([expr, "-o", str(tmp_path / "g.dot")])
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "g.dot").exists()


def test_graph_main_bad_options(capsys, tmp_path):
    assert graph_main(["x*y", "--var", "z=1", "-o", str(tmp_path / "a.dot")]) == 2
    assert "'z' is not an input" in capsys.readouterr().err
    assert graph_main(["x*y", "--shape", "x=3xq", "-o", str(tmp_path / "a.dot")]) == 2
    assert graph_main(["x*y", "--var", "x=1,2", "-o", str(tmp_path / "a.dot")]) == 2
    assert graph_main(["x", "-o", str(tmp_path / "a.docx")]) == 2
    assert graph_main(["--nope"]) == 2


def test_graph_main_without_dot(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert graph_main(["x*2", "-o", str(tmp_path / "g.svg")]) == 1
    assert "apt-get install graphviz" in capsys.readouterr().err


@needs_dot
@pytest.mark.skipif(not (ROOT / "autograd" / "__main__.py").exists(),
                    reason="python -m autograd is not there yet")
def test_python_m_autograd_graph(tmp_path):
    out = tmp_path / "graph.svg"
    r = subprocess.run([sys.executable, "-m", "autograd", "graph", "tanh(x*w + b)", "-o",
                        str(out), "--var", "x=0.5"], cwd=ROOT, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "<svg" in out.read_text()
