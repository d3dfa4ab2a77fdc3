"""Random expression graphs: hypothesis writes small programs over the op set (with reused
nodes, diamonds and broadcasting leaves) and their gradients are checked against central
differences, first and second order."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd as ag
from autograd import gradcheck, gradgradcheck
from autograd import testing as T


def _pattern(shape: tuple[int, ...]) -> np.ndarray:
    return (np.arange(math.prod(shape)).reshape(shape) % 3) == 1


def _axis(x: ag.Tensor, k: int) -> int | None:
    return None if x.ndim == 0 else k % x.ndim


# Every op keeps a node's shape broadcastable to the base shape (reductions keep dims), so
# any two nodes can meet in a binary op. Values stay bounded: no op grows them fast.
UNARY = {
    "sin": lambda x, k: x.sin(),
    "tanh": lambda x, k: x.tanh(),
    "sigmoid": lambda x, k: x.sigmoid(),
    "softplus": lambda x, k: x.softplus(),
    "exp_tanh": lambda x, k: x.tanh().exp(),
    "scale": lambda x, k: x * 0.7 - 0.1,
    "neg": lambda x, k: -x,
    "sq_tanh": lambda x, k: x * x.tanh(),
    "sum_keep": lambda x, k: x.sum(axis=_axis(x, k), keepdims=True) * 0.5,
    "mean_keep": lambda x, k: x.mean(axis=_axis(x, k), keepdims=True),
    "lse_keep": lambda x, k: x.logsumexp(axis=_axis(x, k), keepdims=True),
    "softmax": lambda x, k: x.softmax(axis=k % x.ndim) if x.ndim else x.sigmoid(),
    "var_keep": lambda x, k: x.var(axis=_axis(x, k), keepdims=True),
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul_tanh": lambda a, b: a * b.tanh(),
    "div": lambda a, b: a / (1.0 + b * b),
    "where": lambda a, b: ag.where(_pattern(np.broadcast_shapes(a.shape, b.shape)), a, b),
    "pow_pos": lambda a, b: (a * a + 0.5) ** b.tanh(),
}


@st.composite
def _leaf_shapes(draw: Any) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    base = draw(T.shapes(min_dims=1, max_dims=3, min_side=2, max_side=3))
    n = draw(st.integers(1, 3))
    leaves = []
    for _ in range(n):
        drop = draw(st.integers(0, len(base)))
        ones = draw(st.lists(st.booleans(), min_size=len(base) - drop,
                             max_size=len(base) - drop))
        leaves.append(tuple(1 if o else s for o, s in zip(ones, base[drop:])))
    return base, leaves


@st.composite
def programs(draw: Any) -> tuple[list[np.ndarray], list[tuple], list[int]]:
    """Leaf values, instructions (op, operand indices into the node pool, axis) and which
    nodes are outputs. Operands are drawn from every earlier node, so nodes get reused."""
    _, shapes = draw(_leaf_shapes())
    leaves = [draw(T.tensors(shape=s, elements=T.bounded(-2, 2))).data for s in shapes]
    n_nodes = len(leaves)
    program = []
    for _ in range(draw(st.integers(2, 8))):
        if draw(st.booleans()):
            op = draw(st.sampled_from(sorted(UNARY)))
            program.append((op, draw(st.integers(0, n_nodes - 1)), draw(st.integers(0, 2))))
        else:
            op = draw(st.sampled_from(sorted(BINARY)))
            program.append((op, draw(st.integers(0, n_nodes - 1)),
                            draw(st.integers(0, n_nodes - 1))))
        n_nodes += 1
    extra = draw(st.integers(len(leaves), n_nodes - 1))
    outputs = sorted({n_nodes - 1, extra})
    return leaves, program, outputs


def uniform_program(rng: np.random.Generator) -> tuple[list[np.ndarray], list[tuple], list[int]]:
    """The same kind of program drawn uniformly from a numpy generator: hypothesis favours
    simple choices early on, this covers the op set evenly in few examples."""
    nd = int(rng.integers(1, 4))
    base = tuple(int(v) for v in rng.integers(2, 4, size=nd))
    leaves = []
    for _ in range(int(rng.integers(1, 4))):
        drop = int(rng.integers(0, nd + 1))
        shape = tuple(1 if rng.random() < 0.3 else v for v in base[drop:])
        leaves.append(rng.uniform(-2, 2, size=shape))
    n_nodes = len(leaves)
    program = []
    for _ in range(int(rng.integers(3, 10))):
        if rng.random() < 0.5:
            program.append((str(rng.choice(sorted(UNARY))), int(rng.integers(n_nodes)),
                            int(rng.integers(3))))
        else:
            program.append((str(rng.choice(sorted(BINARY))), int(rng.integers(n_nodes)),
                            int(rng.integers(n_nodes))))
        n_nodes += 1
    outputs = sorted({n_nodes - 1, int(rng.integers(len(leaves), n_nodes))})
    return leaves, program, outputs


def run(program: list[tuple], outputs: list[int], *leaves: ag.Tensor) -> tuple:
    nodes = list(leaves)
    for op, a, b in program:
        if op in UNARY:
            nodes.append(UNARY[op](nodes[a], b))
        else:
            nodes.append(BINARY[op](nodes[a], nodes[b]))
    return tuple(nodes[i] for i in outputs)


@settings(deadline=None, max_examples=60)
@given(programs())
def test_random_graphs_first_order(prog):
    leaves, program, outputs = prog
    xs = [ag.Tensor(a, requires_grad=True, name=f"leaf{i}") for i, a in enumerate(leaves)]
    assert gradcheck(lambda *ts: run(program, outputs, *ts), xs)


@pytest.mark.parametrize("order", [1, 2])
def test_uniformly_drawn_graphs(order):
    check = gradcheck if order == 1 else gradgradcheck
    for seed in range(40 if order == 1 else 15):
        leaves, program, outputs = uniform_program(np.random.default_rng(seed))
        xs = [ag.Tensor(a, requires_grad=True) for a in leaves]
        try:
            check(lambda *ts, p=program, o=outputs: run(p, o, *ts), xs)
        except ag.GradcheckError as exc:
            shapes = [a.shape for a in leaves]
            raise AssertionError(f"seed {seed}: leaves {shapes}, program {program}, "
                                 f"outputs {outputs}\n{exc}") from exc


@settings(deadline=None, max_examples=15)
@given(programs())
def test_random_graphs_second_order(prog):
    leaves, program, outputs = prog
    xs = [ag.Tensor(a, requires_grad=True) for a in leaves]
    assert gradgradcheck(lambda *ts: run(program, outputs, *ts), xs)


@settings(deadline=None, max_examples=25)
@given(programs(), st.integers(0, 2**32 - 1))
def test_backward_accumulates_what_grad_returns(prog, seed):
    """.backward() into leaves equals autograd.grad, and a second backward adds to it."""
    leaves, program, outputs = prog
    rng = np.random.default_rng(seed)
    xs = [ag.Tensor(a.copy(), requires_grad=True) for a in leaves]
    outs = run(program, outputs, *xs)
    ws = [rng.standard_normal(o.shape) for o in outs]
    loss = sum(((o * w).sum() for o, w in zip(outs, ws)), ag.Tensor(np.float64(0.0)))
    if not loss.requires_grad:
        return
    gs = ag.grad(loss, xs, retain_graph=True, allow_unused=True)
    loss.backward(retain_graph=True)
    loss.backward()
    for g, x in zip(gs, xs):
        want = np.zeros(x.shape) if g is None else g.data
        got = np.zeros(x.shape) if x.grad is None else x.grad.data
        np.testing.assert_allclose(got, 2 * want, rtol=1e-12, atol=1e-12)


def test_a_fixed_diamond_with_broadcasting():
    """The shape the fuzzer aims for, written out: one leaf feeds two branches that meet
    again, with a broadcast leaf on one side."""
    a = ag.Tensor(np.array([[0.3, -1.2, 0.8], [1.5, 0.1, -0.4]]), requires_grad=True)
    b = ag.Tensor(np.array([0.5, -0.7, 1.1]), requires_grad=True)
    program = [("tanh", 0, 0), ("mul_tanh", 0, 1), ("add", 2, 3), ("sum_keep", 4, 1),
               ("div", 4, 5)]
    outputs = [6]
    assert gradcheck(lambda *ts: run(program, outputs, *ts), (a, b))
    assert gradgradcheck(lambda *ts: run(program, outputs, *ts), (a, b))
