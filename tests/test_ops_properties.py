"""The one-call property test (autograd.testing.check_op) over every built-in op.

Each op is checked over random shapes (broadcasting ones for binary ops), values inside its
domain and away from its kinks: finite forward equal to a numpy reference where one is
given, the broadcast output shape for elementwise ops, gradcheck and gradgradcheck in
float64, and float32 gradients of the inputs' own dtype and shape. The scalar Value ops
get gradcheck too, and must agree with the Tensor ops.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd as ag
from autograd import testing as T

EXAMPLES = 10


@dataclass
class Case:
    name: str
    fn: Callable[..., Any]
    n: int = 1
    opts: dict = field(default_factory=dict)


def _pattern(shape: tuple[int, ...], k: int = 3) -> np.ndarray:
    """A fixed boolean pattern of ``shape`` (not derived from the values being checked)."""
    return (np.arange(math.prod(shape)).reshape(shape) % k) == 0


def _n_reduced(shape: tuple[int, ...], axis: Any) -> int:
    if axis is None:
        return math.prod(shape)
    axes = (axis,) if isinstance(axis, int) else axis
    return math.prod(shape[a] for a in axes)


def _reduce_params(with_ddof: bool = False) -> Callable[[tuple], Any]:
    def params(shps: tuple) -> Any:
        shape = shps[0]

        def build(axis: Any) -> Any:
            d = {"axis": st.just(axis), "keepdims": st.booleans()}
            if with_ddof:
                d["ddof"] = st.sampled_from([0, 1] if _n_reduced(shape, axis) > 1 else [0])
            return st.fixed_dictionaries(d)

        return T.axes(len(shape)).flatmap(build)

    return params


def _one_axis(shps: tuple) -> Any:
    nd = len(shps[0])
    return st.fixed_dictionaries({"axis": st.integers(-nd, nd - 1)})


def _perm(shps: tuple) -> Any:
    return st.fixed_dictionaries({"perm": st.permutations(range(len(shps[0]))).map(tuple)})


def _two_axes(shps: tuple) -> Any:
    nd = len(shps[0])
    return st.fixed_dictionaries({"a1": st.integers(-nd, nd - 1), "a2": st.integers(-nd, nd - 1)})


def _unsqueeze_axis(shps: tuple) -> Any:
    nd = len(shps[0])
    return st.fixed_dictionaries({"axis": st.integers(-nd - 1, nd)})


def _flatten_dims(shps: tuple) -> Any:
    nd = len(shps[0])
    return st.tuples(st.integers(0, nd - 1), st.integers(0, nd - 1)).map(
        lambda se: {"start_dim": min(se), "end_dim": max(se)})


def _broadcast_target(shps: tuple) -> Any:
    shape = shps[0]
    return st.fixed_dictionaries({
        "shape": st.tuples(st.integers(1, 3), st.integers(2, 3)).map(
            lambda lead_side: (lead_side[0],) + tuple(lead_side[1] if s == 1 else s
                                                      for s in shape))})


def _sum_to_target(shps: tuple) -> Any:
    shape = shps[0]
    return st.integers(0, len(shape)).flatmap(
        lambda drop: st.lists(st.booleans(), min_size=len(shape) - drop,
                              max_size=len(shape) - drop).map(
            lambda ones: {"shape": tuple(1 if o else s for o, s in zip(ones, shape[drop:]))}))


def _pad_width(shps: tuple) -> Any:
    nd = len(shps[0])
    side = st.integers(0, 2)
    return st.fixed_dictionaries({
        "pad_width": st.one_of(side, st.tuples(side, side),
                               st.lists(st.tuples(side, side), min_size=nd, max_size=nd)),
        "constant": st.sampled_from([0.0, 1.5]),
    })


@st.composite
def _concat_shapes(draw: Any, n: int = 3) -> tuple:
    base = draw(T.shapes(min_dims=1, max_dims=3, max_side=3))
    axis = draw(st.integers(-len(base), len(base) - 1))
    out = []
    for _ in range(n):
        s = list(base)
        s[axis] = draw(st.integers(0 if out else 1, 3))  # an empty part is allowed
        out.append(tuple(s))
    return tuple(out)


def _concat_axis(shps: tuple) -> Any:
    nd = len(shps[0])
    axes = [a for a in range(-nd, nd)
            if all(s[:a % nd] + s[a % nd + 1:] == shps[0][:a % nd] + shps[0][a % nd + 1:]
                   for s in shps)]
    return st.fixed_dictionaries({"axis": st.sampled_from(axes)})


def _stack_params(shps: tuple) -> Any:
    nd = len(shps[0])
    return st.fixed_dictionaries({"axis": st.integers(-nd - 1, nd)})


@st.composite
def _matmul_shapes(draw: Any) -> tuple:
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    kind = draw(st.sampled_from(["vv", "mv", "vm", "mm", "batched"]))
    if kind == "vv":
        return (k,), (k,)
    if kind == "mv":
        return (n, k), (k,)
    if kind == "vm":
        return (k,), (k, m)
    if kind == "mm":
        return (n, k), (k, m)
    b1, b2 = draw(T.broadcastable_shapes(2, min_dims=1, max_dims=2, max_side=2))
    return b1 + (n, k), b2 + (k, m)


real, positive, nonzero = T.real, T.positive, T.nonzero
DISTINCT = {"distinct": True}

ELEMENTWISE = [
    Case("neg", lambda x: -x, opts={"reference": np.negative}),
    Case("exp", ag.exp, opts={"reference": np.exp}),
    Case("log", ag.log, opts={"domain": positive, "reference": np.log}),
    Case("sqrt", ag.sqrt, opts={"domain": positive, "reference": np.sqrt}),
    Case("abs", ag.abs, opts={"domain": T.away_from(0.0), "reference": np.abs}),
    Case("sin", ag.sin, opts={"reference": np.sin}),
    Case("cos", ag.cos, opts={"reference": np.cos}),
    Case("tanh", ag.tanh, opts={"reference": np.tanh}),
    Case("sigmoid", ag.sigmoid, opts={"reference": lambda x: 1 / (1 + np.exp(-x))}),
    Case("relu", ag.relu, opts={"domain": T.away_from(0.0),
                                "reference": lambda x: np.maximum(x, 0)}),
    Case("leaky_relu", lambda x: ag.leaky_relu(x, slope=0.1),
         opts={"domain": T.away_from(0.0), "reference": lambda x: np.where(x > 0, x, 0.1 * x)}),
    Case("softplus", ag.softplus, opts={"reference": lambda x: np.log1p(np.exp(x))}),
    Case("clip", lambda x: ag.clip(x, -1.0, 1.5),
         opts={"domain": T.away_from(-1.0, 1.5), "reference": lambda x: np.clip(x, -1, 1.5)}),
    Case("clip_lo_only", lambda x: x.clip(lo=0.5),
         opts={"domain": T.away_from(0.5), "reference": lambda x: np.maximum(x, 0.5)}),
    Case("pow_int", lambda x: x ** 3, opts={"reference": lambda x: x ** 3}),
    Case("pow_square", lambda x: x ** 2, opts={"reference": np.square}),
    Case("pow_frac", lambda x: x ** 2.5, opts={"domain": positive,
                                              "reference": lambda x: x ** 2.5}),
    Case("pow_neg", lambda x: x ** -1.5, opts={"domain": positive,
                                              "reference": lambda x: x ** -1.5}),
    Case("rpow", lambda x: 2.0 ** x, opts={"reference": lambda x: 2.0 ** x}),
    Case("scalar_arith", lambda x: (3.0 - x) * 2.0 + x / 4.0 - 1.0,
         opts={"reference": lambda x: (3.0 - x) * 2.0 + x / 4.0 - 1.0}),
    Case("rdiv", lambda x: 3.0 / x, opts={"domain": nonzero, "reference": lambda x: 3.0 / x}),
    Case("numpy_left", lambda x: np.float64(2.0) * x - np.ones(x.shape, x.dtype),
         opts={"reference": lambda x: 2.0 * x - 1.0}),
]
for c in ELEMENTWISE:
    c.opts["elementwise"] = True

BINARY = [
    Case("add", lambda a, b: a + b, 2, {"reference": np.add}),
    Case("sub", lambda a, b: a - b, 2, {"reference": np.subtract}),
    Case("mul", lambda a, b: a * b, 2, {"reference": np.multiply}),
    Case("div", lambda a, b: a / b, 2, {"domain": [real, nonzero], "reference": np.divide}),
    Case("pow_tensors", lambda a, b: a ** b, 2,
         {"domain": [positive, T.bounded(-2, 2)], "reference": np.power}),
    Case("maximum", ag.maximum, 2, {"reference": np.maximum, **DISTINCT}),
    Case("minimum", ag.minimum, 2, {"reference": np.minimum, **DISTINCT}),
    Case("where", lambda a, b: ag.where(_pattern(np.broadcast_shapes(a.shape, b.shape)), a, b),
         2, {"reference": lambda a, b: np.where(
             _pattern(np.broadcast_shapes(a.shape, b.shape)), a, b)}),
    Case("where_scalar_branch", lambda a, b: ag.where(_pattern(a.shape), a * b, 0.0), 2,
         {"elementwise": False}),
    Case("three_way", lambda a, b, c: a * b + c.tanh() * a, 3,
         {"reference": lambda a, b, c: a * b + np.tanh(c) * a}),
]
for c in BINARY:
    c.opts.setdefault("elementwise", True)

REDUCTIONS = [
    Case("sum", lambda x, axis, keepdims: x.sum(axis=axis, keepdims=keepdims),
         opts={"params": _reduce_params(), "reference": np.sum}),
    Case("mean", lambda x, axis, keepdims: x.mean(axis=axis, keepdims=keepdims),
         opts={"params": _reduce_params(), "reference": np.mean}),
    Case("max", lambda x, axis, keepdims: x.max(axis=axis, keepdims=keepdims),
         opts={"params": _reduce_params(), "reference": np.max, **DISTINCT}),
    Case("min", lambda x, axis, keepdims: x.min(axis=axis, keepdims=keepdims),
         opts={"params": _reduce_params(), "reference": np.min, **DISTINCT}),
    Case("var", lambda x, axis, keepdims, ddof: x.var(axis=axis, keepdims=keepdims, ddof=ddof),
         opts={"params": _reduce_params(with_ddof=True), "reference": np.var}),
    Case("logsumexp", lambda x, axis, keepdims: x.logsumexp(axis=axis, keepdims=keepdims),
         opts={"params": _reduce_params(), "reference": lambda x, axis, keepdims: np.log(
             np.sum(np.exp(x), axis=axis, keepdims=keepdims))}),
    Case("softmax", lambda x, axis: ag.softmax(x, axis=axis),
         opts={"params": _one_axis, "min_dims": 1, "reference": lambda x, axis: np.exp(x) /
               np.exp(x).sum(axis=axis, keepdims=True)}),
    Case("log_softmax", lambda x, axis: ag.log_softmax(x, axis=axis),
         opts={"params": _one_axis, "min_dims": 1, "reference": lambda x, axis: x - np.log(
             np.exp(x).sum(axis=axis, keepdims=True))}),
]

SHAPE_OPS = [
    Case("reshape_flat", lambda x: x.reshape(-1), opts={"reference": lambda x: x.reshape(-1)}),
    Case("reshape_reversed", lambda x: x.reshape(*x.shape[::-1]),
         opts={"reference": lambda x: x.reshape(x.shape[::-1])}),
    Case("transpose", lambda x, perm: x.transpose(*perm),
         opts={"params": _perm, "reference": lambda x, perm: np.transpose(x, perm)}),
    Case("T", lambda x: x.T, opts={"reference": lambda x: x.T}),
    Case("swapaxes", lambda x, a1, a2: x.swapaxes(a1, a2),
         opts={"params": _two_axes, "min_dims": 1,
               "reference": lambda x, a1, a2: np.swapaxes(x, a1, a2)}),
    Case("squeeze", lambda x: x.squeeze(), opts={"reference": np.squeeze}),
    Case("squeeze_axis", lambda x: x.squeeze(0),
         opts={"shapes": T.shapes(max_dims=2, max_side=3).map(lambda s: ((1,) + s,)),
               "reference": lambda x: np.squeeze(x, 0)}),
    Case("unsqueeze", lambda x, axis: x.unsqueeze(axis),
         opts={"params": _unsqueeze_axis, "reference": np.expand_dims}),
    Case("flatten", lambda x, start_dim, end_dim: x.flatten(start_dim, end_dim),
         opts={"params": _flatten_dims, "min_dims": 1}),
    Case("broadcast_to", lambda x, shape: x.broadcast_to(shape),
         opts={"params": _broadcast_target, "reference": np.broadcast_to}),
    Case("sum_to", lambda x, shape: x.sum_to(shape), opts={"params": _sum_to_target}),
    Case("pad", lambda x, pad_width, constant: ag.pad(x, pad_width, constant),
         opts={"params": _pad_width, "min_dims": 1,
               "reference": lambda x, pad_width, constant: np.pad(
                   x, pad_width, constant_values=constant)}),
    Case("concatenate", lambda a, b, c, axis: ag.concatenate([a, b, c], axis=axis), 3,
         {"shapes": _concat_shapes(), "params": _concat_axis,
          "reference": lambda a, b, c, axis: np.concatenate([a, b, c], axis=axis)}),
    Case("stack", lambda a, b, c, axis: ag.stack([a, b, c], axis=axis), 3,
         {"broadcast": False, "params": _stack_params,
          "reference": lambda a, b, c, axis: np.stack([a, b, c], axis=axis)}),
]

INDEXING = [
    Case("slice", lambda x: x[1:], opts={"min_dims": 1, "reference": lambda x: x[1:]}),
    Case("reversed_step", lambda x: x[::-2], opts={"min_dims": 1,
                                                   "reference": lambda x: x[::-2]}),
    Case("int_and_ellipsis", lambda x: x[..., 0], opts={"min_dims": 1,
                                                         "reference": lambda x: x[..., 0]}),
    Case("newaxis", lambda x: x[None], opts={"reference": lambda x: x[None]}),
    Case("repeated_int_array", lambda x: x[np.array([0, 0, -1, 0])],
         opts={"min_dims": 1, "reference": lambda x: x[np.array([0, 0, -1, 0])]}),
    Case("int_array_2d", lambda x: x[np.array([[0, -1], [0, 0]])],
         opts={"min_dims": 1, "reference": lambda x: x[np.array([[0, -1], [0, 0]])]}),
    Case("int_arrays_pair", lambda x: x[np.array([0, -1, 0]), np.array([0, 0, 0])],
         opts={"min_dims": 2, "reference": lambda x: x[np.array([0, -1, 0]),
                                                       np.array([0, 0, 0])]}),
    Case("int_array_and_slice", lambda x: x[np.array([-1, 0, -1]), 1:],
         opts={"min_dims": 2, "reference": lambda x: x[np.array([-1, 0, -1]), 1:]}),
    Case("bool_mask", lambda x: x[_pattern(x.shape, 2)],
         opts={"min_dims": 1, "reference": lambda x: x[_pattern(x.shape, 2)]}),
    Case("bool_mask_first_axis", lambda x: x[_pattern(x.shape[:1], 2)],
         opts={"min_dims": 1, "reference": lambda x: x[_pattern(x.shape[:1], 2)]}),
    Case("tensor_index", lambda x: x[ag.Tensor(np.array([0, 0]))],
         opts={"min_dims": 1, "reference": lambda x: x[np.array([0, 0])]}),
]

LINALG = [
    Case("matmul", ag.matmul, 2, {"shapes": _matmul_shapes(), "reference": np.matmul}),
    Case("matmul_operator", lambda a, b: a @ b, 2,
         {"shapes": _matmul_shapes(), "reference": np.matmul}),
    Case("numpy_left_matmul", lambda b: np.eye(b.shape[0], dtype=b.dtype) * 2.0 @ b,
         opts={"min_dims": 1, "max_dims": 2, "reference": lambda b: 2.0 * b}),
]

ALL = ELEMENTWISE + BINARY + REDUCTIONS + SHAPE_OPS + INDEXING + LINALG


@pytest.mark.parametrize("case", ALL, ids=[c.name for c in ALL])
def test_op_properties(case: Case) -> None:
    opts = dict(case.opts)
    opts.setdefault("max_side", 3)
    T.check_op(case.fn, case.n, max_examples=EXAMPLES, **opts)


def test_every_public_op_is_covered() -> None:
    """The list above names an op for each elementwise/reduce/shape function of autograd."""
    names = {c.name.split("_")[0] for c in ALL} | {c.name for c in ALL}
    public = ["exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu",
              "leaky_relu", "softplus", "clip", "maximum", "minimum", "where", "sum", "mean",
              "max", "min", "var", "logsumexp", "softmax", "log_softmax", "reshape",
              "transpose", "swapaxes", "squeeze", "unsqueeze", "flatten", "broadcast_to",
              "sum_to", "pad", "concatenate", "stack", "matmul"]
    assert [p for p in public if p not in names] == []


# -- the scalar Value engine ---------------------------------------------------------------------
VALUE_CASES = [
    ("add", lambda a, b: a + b, 2, real, lambda a, b: a + b),
    ("sub", lambda a, b: a - b, 2, real, lambda a, b: a - b),
    ("mul", lambda a, b: a * b, 2, real, lambda a, b: a * b),
    ("div", lambda a, b: a / b, 2, [real, nonzero], lambda a, b: a / b),
    ("reflected", lambda a: (2.0 - a) * 3.0 + 1.0 / (a * a + 1.0), 1, real,
     lambda a: (2.0 - a) * 3.0 + 1.0 / (a * a + 1.0)),
    ("pow_int", lambda a: a ** 3, 1, real, lambda a: a ** 3),
    ("pow_float", lambda a: a ** -0.5, 1, positive, lambda a: a ** -0.5),
    ("neg", lambda a: -a, 1, real, lambda a: -a),
    ("relu", lambda a: a.relu(), 1, T.away_from(0.0), lambda a: max(a, 0.0)),
    ("tanh", lambda a: a.tanh(), 1, real, math.tanh),
    ("exp", lambda a: a.exp(), 1, real, math.exp),
    ("log", lambda a: a.log(), 1, positive, math.log),
    ("sigmoid", lambda a: a.sigmoid(), 1, real, lambda a: 1 / (1 + math.exp(-a))),
    ("diamond", lambda a, b: (a * b + a).tanh() * (a - b), 2, real,
     lambda a, b: math.tanh(a * b + a) * (a - b)),
]


@pytest.mark.parametrize("name,fn,n,domain,ref", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_value_op_properties(name: str, fn: Callable, n: int, domain: Any,
                             ref: Callable) -> None:
    T.check_value_op(fn, n, domain=domain, reference=ref, max_examples=15)


@settings(deadline=None, max_examples=15)
@given(st.sampled_from(VALUE_CASES), st.data())
def test_value_and_tensor_agree(case: tuple, data: Any) -> None:
    name, fn, n, domain, _ = case
    doms = domain if isinstance(domain, list) else [domain] * n
    xs = [data.draw(d.strategy(), label=f"x{i}") for i, d in enumerate(doms)]
    vals = [ag.Value(x) for x in xs]
    out_v = fn(*vals)
    out_v.backward()
    ts = [ag.Tensor(np.float64(x), requires_grad=True) for x in xs]
    out_t = fn(*ts)  # the same expression through the Tensor ops
    out_t.backward()
    assert out_v.data == pytest.approx(out_t.item(), rel=1e-12, abs=1e-12)
    for v, t in zip(vals, ts):
        assert v.grad == pytest.approx(t.grad.item(), rel=1e-10, abs=1e-12)
