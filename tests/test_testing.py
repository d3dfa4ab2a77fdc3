"""autograd.testing: the strategies draw what they promise, check_op catches broken ops."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from helpers import Cube, CubeConstantDerivative
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd as ag
from autograd import GradcheckError
from autograd import testing as T


# -- domains -------------------------------------------------------------------------------------
def test_domains_contain_and_sample():
    rng = np.random.default_rng(0)
    dom = T.away_from(0.0, 1.0, margin=0.25, lo=-2, hi=2)
    x = dom.sample(rng, (2000,))
    assert x.shape == (2000,) and x.dtype == np.float64
    assert dom.contains(x).all()
    assert (x >= -2).all() and (x <= 2).all()
    assert np.abs(x).min() >= 0.25 and np.abs(x - 1).min() >= 0.25
    np.testing.assert_array_equal(dom.contains([0.1, 0.5, 1.2, 1.3, 2.5]),
                                  [False, True, False, True, False])
    assert T.positive.contains(T.positive.sample(rng, (100,))).all()
    assert T.positive.lo > 0


def test_domain_intersection_and_errors():
    d = T.positive & T.away_from(1.0, margin=0.3)
    assert (d.lo, d.hi, d.avoid, d.margin) == (0.2, 3.0, (1.0,), 0.3)
    assert not d.contains(0.9) and d.contains(1.5)
    with pytest.raises(ValueError, match="lo < hi"):
        T.bounded(1.0, 1.0)
    with pytest.raises(ValueError, match="no value"):
        T.away_from(0.0, margin=5.0, lo=-1, hi=1)
    assert repr(T.positive) == "positive"
    assert repr(T.bounded(-1, 1)) == "bounded(-1, 1)"


@settings(deadline=None, max_examples=50)
@given(T.away_from(0.0, margin=0.3).strategy())
def test_domain_strategy_stays_inside(x):
    assert -3 <= x <= 3 and abs(x) >= 0.3


@settings(deadline=None, max_examples=30)
@given(st.data())
def test_distinct_strategy_gives_separated_values(data):
    t = data.draw(T.tensors(shape=(4, 5), elements=T.bounded(-1, 1), distinct=True))
    v = np.sort(t.data.ravel())
    assert np.diff(v).min() >= 1 / 64 - 1e-12


# -- strategies ----------------------------------------------------------------------------------
@settings(deadline=None, max_examples=50)
@given(T.shapes(min_dims=1, max_dims=3, max_side=4))
def test_shapes(shape):
    assert 1 <= len(shape) <= 3 and all(1 <= s <= 4 for s in shape)


@settings(deadline=None, max_examples=50)
@given(T.broadcastable_shapes(3, max_dims=3, max_side=4))
def test_broadcastable_shapes_broadcast_together(shapes):
    assert len(shapes) == 3
    out = np.broadcast_shapes(*shapes)
    for s in shapes:
        np.broadcast_to(np.zeros(s), out)


@settings(deadline=None, max_examples=30)
@given(T.tensors(shape=T.shapes(max_dims=2), elements=T.positive))
def test_tensors(t):
    assert isinstance(t, ag.Tensor) and t.requires_grad and t.dtype == np.float64
    assert (t.data >= 0.2).all() and (t.data <= 4.0).all()


@settings(deadline=None, max_examples=30)
@given(T.tensors(shape=(2, 3), dtype=np.float32, requires_grad=False))
def test_tensors_fixed_shape_and_dtype(t):
    assert t.shape == (2, 3) and t.dtype == np.float32 and not t.requires_grad


@settings(deadline=None, max_examples=50)
@given(st.integers(0, 3).flatmap(lambda nd: st.tuples(st.just(nd), T.axes(nd))))
def test_axes_are_valid_for_numpy(nd_axis):
    nd, axis = nd_axis
    np.sum(np.zeros((2,) * nd), axis=axis)  # raises for an invalid axis


# -- check_op: passes right ops, catches broken ones -------------------------------------------
class MulForgetsFirstRow(ag.Function):
    """a * b, but b's gradient takes only the first row of the broadcast gradient."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        gb = grad * a
        extra = gb.ndim - b.ndim
        if extra > 0:
            gb = gb[(0,) * extra]  # forgets to sum the broadcast leading axes
        return grad * b, gb


class CastsToFloat64(ag.Function):
    @staticmethod
    def forward(ctx, x):
        return x.astype(np.float64) * 2.0

    @staticmethod
    def backward(ctx, grad):
        return grad * 2.0


def test_check_op_passes_a_right_op():
    T.check_op(Cube.apply, reference=lambda x: x ** 3, max_examples=10)
    T.check_op(lambda a, b: a * b + a, 2, elementwise=True, max_examples=10,
               reference=lambda a, b: a * b + a)


def test_check_op_catches_a_wrong_second_derivative():
    T.check_op(CubeConstantDerivative.apply, second_order=False, max_examples=10)
    with pytest.raises(GradcheckError, match="gradgradcheck failed"):
        T.check_op(CubeConstantDerivative.apply, max_examples=10, shrink=False, seed=0)


def test_check_op_catches_a_missing_broadcast_reduction():
    with pytest.raises(GradcheckError) as exc:
        T.check_op(MulForgetsFirstRow.apply, 2, elementwise=True, max_examples=30,
                   second_order=False, shrink=False, seed=1)
    assert exc.value.input_index == 1


def test_check_op_catches_a_wrong_forward_and_shape():
    with pytest.raises(AssertionError, match="differs from the reference"):
        T.check_op(lambda x: x * 2.0, reference=lambda x: x * 3.0, max_examples=5,
                   shrink=False, seed=0)
    with pytest.raises(AssertionError, match="expected the broadcast shape"):
        T.check_op(lambda a, b: (a * b).sum(), 2, elementwise=True, max_examples=10,
                   min_dims=1, shrink=False, seed=0)


def test_check_op_catches_a_dtype_change_and_nonfinite_output():
    with pytest.raises(AssertionError, match="dtype float64 for float32 inputs"):
        T.check_op(CastsToFloat64.apply, max_examples=5, shrink=False, seed=0)
    with np.errstate(invalid="ignore"), pytest.raises(AssertionError, match="not finite"):
        T.check_op(lambda x: x.log(), domain=T.bounded(-2, -1), max_examples=5,
                   shrink=False, seed=0)


def test_check_op_catches_a_kink_unless_avoided():
    with pytest.raises(GradcheckError) as exc:
        T.check_op(ag.relu, domain=T.bounded(-1e-7, 1e-7), max_examples=10, shrink=False, seed=0)
    assert exc.value.kind == "kink"
    T.check_op(ag.relu, domain=T.away_from(0.0), max_examples=10)


def test_check_op_fixed_shapes_params_and_per_input_domains():
    seen = []

    def op(a, b, axis):
        seen.append((a.shape, b.shape, axis))
        return (a / b).sum(axis=axis)

    T.check_op(op, 2, shapes=((2, 3), (3,)), domain=[T.real, T.nonzero],
               params=lambda shapes: st.fixed_dictionaries({"axis": T.axes(2)}),
               max_examples=5, second_order=False, check_float32=False)
    assert seen and all(s[:2] == ((2, 3), (3,)) for s in seen)


def test_check_op_seed_is_reproducible():
    def draws():
        out = []
        T.check_op(lambda x: out.append(x.data.copy()) or x * 1.0, max_examples=5, seed=3,
                   second_order=False, check_float32=False)
        return out

    a, b = draws(), draws()
    assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_check_value_op():
    T.check_value_op(lambda a, b: (a * b).tanh() + a, 2, max_examples=10,
                     reference=lambda a, b: np.tanh(a * b) + a)

    def wrong(a):
        h = a * a
        h.register_hook(lambda g: g * 0.5)
        return h

    with pytest.raises(GradcheckError):
        T.check_value_op(wrong, max_examples=10, domain=T.nonzero, shrink=False)


def test_importing_autograd_does_not_import_hypothesis():
    code = ("import sys, autograd, autograd.testing, autograd.functional; "
            "assert 'hypothesis' not in sys.modules; "
            "autograd.testing.positive.sample(__import__('numpy').random.default_rng(0), (2,))")
    subprocess.run([sys.executable, "-c", code], check=True)
