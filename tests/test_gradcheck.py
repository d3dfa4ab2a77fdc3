"""gradcheck / gradgradcheck: pass on right gradients, catch and locate wrong ones."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import Cube

import autograd as ag
from autograd import GradcheckError, gradcheck, gradgradcheck


class CubeOffByFactor(Cube):
    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 2 * x ** 2  # should be 3 x^2


class CubeConstantDerivative(Cube):
    """First derivative right, but computed outside the graph: second derivative 0."""

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ag.Tensor(3 * x.data ** 2)


class CubeSquaredGrad(Cube):
    """Right for unit seeds (g * g == g), wrong for any other incoming gradient."""

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * grad * 3 * x ** 2


class RowSumWrongAxis(ag.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.shape = x.shape
        return x.sum(axis=1)

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(1, -1).broadcast_to(ctx.shape)  # should be reshape(-1, 1)


class AddBiasNoReduce(ag.Function):
    """x (n, m) + b (m,): the bias gradient must sum over rows; this one takes row 0."""

    @staticmethod
    def forward(ctx, x, b):
        return x + b

    @staticmethod
    def backward(ctx, grad):
        return grad, grad[0]


class AddBiasEngineReduces(ag.Function):
    """Returns the unreduced (n, m) gradient for b: the engine sums it to b's shape."""

    @staticmethod
    def forward(ctx, x, b):
        return x + b

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


def t64(values, name=None, requires_grad=True):
    return ag.Tensor(np.array(values, dtype=np.float64), requires_grad=requires_grad, name=name)


# -- passing checks ----------------------------------------------------------------------------
def test_right_gradients_pass_first_and_second_order():
    x = t64([0.5, -1.0, 2.0], "x")
    assert gradcheck(Cube.apply, x) is True
    assert gradgradcheck(Cube.apply, (x,)) is True


def test_several_inputs_several_non_scalar_outputs_and_constants():
    rng = np.random.default_rng(0)
    a = t64(rng.standard_normal((2, 3)), "a")
    b = t64(rng.standard_normal(3), "b")
    c = ag.Tensor(rng.standard_normal((2, 3)))  # a constant: not checked, passed through
    idx = np.array([1, 0, 1])

    def f(a, b, c, idx, scale):
        y = (a * b + c).tanh() * scale
        return y, (a @ b)[idx], y.sum(axis=0)

    assert gradcheck(f, (a, b, c, idx, 2.0))
    assert gradgradcheck(f, (a, b, c, idx, 2.0))


def test_engine_reduces_an_unreduced_broadcast_gradient():
    x = t64(np.arange(6.0).reshape(2, 3))
    b = t64([1.0, 2.0, 3.0])
    assert gradcheck(AddBiasEngineReduces.apply, (x, b))


def test_float32_inputs_are_checked_in_float64():
    # In float32, central differences with eps=1e-6 are rounding noise; in float64 they
    # are accurate to ~1e-10, so this only passes because the check casts.
    x = ag.Tensor(np.array([0.3, 1.7, -2.2], dtype=np.float32), requires_grad=True)
    assert gradcheck(lambda t: (t.exp() * t.sin()).sum(), x, atol=1e-8, rtol=1e-7)
    assert x.dtype == np.float32  # the caller's tensor is untouched


def test_value_functions():
    a, b = ag.Value(0.7, label="a"), ag.Value(-1.3, label="b")
    assert gradcheck(lambda a, b: (a * b + a.tanh() - b / (a * a + 1.0)).exp(), (a, b))
    assert gradcheck(lambda a, b: (a * b, (a + b).sigmoid(), (a ** 2).log()), (a, b))
    assert gradcheck(lambda a, k: a.relu() * k, (a, 3.0))  # constants pass through


# -- failures: located and explained -----------------------------------------------------------
def test_off_by_a_factor_is_located_and_reported():
    x = t64([0.5, -1.0, 2.0], "x")
    with pytest.raises(GradcheckError) as exc:
        gradcheck(CubeOffByFactor.apply, x)
    err = exc.value
    msg = str(err)
    # worst element: x[2] = 2, analytic 2 * 4 = 8, numeric 3 * 4 = 12
    assert err.kind == "mismatch" and err.order == 1
    assert (err.input_index, err.input_name, err.output_index) == (0, "x", 0)
    assert err.input_element == (2,) and err.output_element == (2,)
    assert err.analytic == pytest.approx(8.0)
    assert err.numeric == pytest.approx(12.0, rel=1e-8)
    assert err.max_abs_error == pytest.approx(4.0, rel=1e-6)
    assert err.max_rel_error == pytest.approx(1 / 3, rel=1e-6)
    assert "input 0 'x' (shape (3,))" in msg
    assert "worst element: d out[2] / d x[2]: analytic 8, numeric 12" in msg
    assert "max abs error 4, max rel error 0.333" in msg
    assert "3 of 9 entries" in msg
    # the side-by-side table of the 3x3 Jacobian, mismatches starred
    assert "analytic" in msg and "numeric" in msg and "*8" in msg and "*0.5" in msg
    np.testing.assert_allclose(err.analytic_jacobian, np.diag([0.5, 2.0, 8.0]))
    np.testing.assert_allclose(err.numeric_jacobian, np.diag([0.75, 3.0, 12.0]), rtol=1e-8)
    assert err.inputs[0].dtype == np.float64
    np.testing.assert_array_equal(err.inputs[0].data, [0.5, -1.0, 2.0])


def test_raise_exception_false_returns_false():
    x = t64([0.5, -1.0, 2.0])
    assert gradcheck(CubeOffByFactor.apply, x, raise_exception=False) is False
    assert gradgradcheck(CubeConstantDerivative.apply, x, raise_exception=False) is False


def test_wrong_axis_is_caught():
    x = t64(np.arange(9.0).reshape(3, 3) / 4, "m")
    with pytest.raises(GradcheckError) as exc:
        gradcheck(RowSumWrongAxis.apply, x)
    err = exc.value
    assert err.kind == "mismatch"
    # d out[i] / d m[j, k] is 1 iff i == j; the wrong backward gives 1 iff i == k
    want = np.kron(np.eye(3), np.ones((1, 3)))
    np.testing.assert_allclose(err.numeric_jacobian, want, atol=1e-8)
    np.testing.assert_allclose(err.analytic_jacobian, np.tile(np.eye(3), (1, 3)))
    assert "input 0 'm' (shape (3, 3))" in str(err)
    assert "12 of 27 entries" in str(err)
    assert "Jacobian of" not in str(err)  # 3x9: too wide for the table


def test_missing_broadcast_reduction_is_caught_on_the_bias():
    x = t64(np.arange(6.0).reshape(2, 3), "x")
    b = t64([1.0, 2.0, 3.0], "b")
    with pytest.raises(GradcheckError) as exc:
        gradcheck(AddBiasNoReduce.apply, (x, b))
    err = exc.value
    assert (err.input_index, err.input_name) == (1, "b")
    assert "input 1 'b' (shape (3,))" in str(err)
    assert err.output_element[0] == 1  # row 1's contribution is the one missing
    assert err.analytic == 0.0 and err.numeric == pytest.approx(1.0)


def test_wrong_second_derivative_only():
    x = t64([0.5, -1.0, 2.0], "x")
    assert gradcheck(CubeConstantDerivative.apply, x)  # first order is right
    with pytest.raises(GradcheckError) as exc:
        gradgradcheck(CubeConstantDerivative.apply, x)
    err = exc.value
    msg = str(err)
    assert err.order == 2 and err.kind == "mismatch"
    assert msg.startswith("gradgradcheck failed: the second derivative")
    assert "the gradient w.r.t. input 0 'x'" in msg
    assert "d grad_x[2] / d x[2]: analytic 0" in msg
    # numeric: d/dx of v * 3x^2 = 6 x v at x = 2 with the seeded v
    v = np.random.default_rng(0).standard_normal(3)
    assert err.numeric == pytest.approx(12.0 * v[2], rel=1e-6)


def test_backward_not_linear_in_its_incoming_gradient():
    x = t64([0.5, -1.0, 2.0], "x")
    with pytest.raises(GradcheckError) as exc:
        gradcheck(CubeSquaredGrad.apply, x)  # unit seeds alone cannot see it: g * g == g
    err = exc.value
    assert err.kind == "nonlinear"
    assert "not linear in its incoming gradient" in str(err)
    u = np.random.default_rng(12345).standard_normal(3)
    e = err.input_element[0]
    assert err.analytic == pytest.approx(u[e] ** 2 * 3 * x.data[e] ** 2)
    assert err.numeric == pytest.approx(u[e] * 3 * x.data[e] ** 2, rel=1e-6)


def test_gradgradcheck_with_given_grad_outputs():
    x = t64([0.5, -1.0, 2.0])
    assert gradgradcheck(Cube.apply, x, grad_outputs=np.array([1.0, -2.0, 0.5]))
    with pytest.raises(ValueError, match=r"grad_outputs\[0\] has shape \(2,\) but output 0 "
                                         r"has shape \(3,\)"):
        gradgradcheck(Cube.apply, x, grad_outputs=[np.ones(2)])


def test_several_outputs_name_the_output():
    x = t64([1.0, 2.0], "x")

    def f(x):
        return x * 2.0, CubeOffByFactor.apply(x)

    with pytest.raises(GradcheckError) as exc:
        gradcheck(f, x)
    assert exc.value.output_index == 1
    assert "of output 1 (shape (2,))" in str(exc.value)
    assert "d out1[1] / d x[1]" in str(exc.value)


def test_value_function_with_a_wrong_gradient():
    def f(a, b):
        h = a * b
        h.register_hook(lambda g: 2 * g)  # doubles the gradient flowing through h
        return h + a

    with pytest.raises(GradcheckError) as exc:
        gradcheck(f, (ag.Value(1.5, label="a"), ag.Value(-0.5, label="b")))
    err = exc.value
    # d/db = a = 1.5 but the hook makes it 3.0; d/da = b + 1 = 0.5 vs 2b + 1 = 0
    assert err.input_name == "b" and err.analytic == pytest.approx(3.0)
    assert err.numeric == pytest.approx(1.5)
    assert "input 1 'b'" in str(err)


# -- kinks: non-differentiable points are named as such -----------------------------------------
def test_relu_at_zero_is_reported_as_a_kink():
    x = t64([0.0, 1.0, -2.0])
    with pytest.raises(GradcheckError) as exc:
        gradcheck(ag.relu, x)
    err = exc.value
    assert err.kind == "kink"
    assert err.input_element == (0,)
    assert (err.left, err.right) == (pytest.approx(0.0), pytest.approx(1.0))
    msg = str(err)
    assert "non-differentiable point" in msg
    assert "left derivative 0 and right derivative 1" in msg
    assert "equals the left derivative" in msg
    assert "away_from" in msg


def test_tied_max_is_reported_as_a_kink():
    x = t64([1.0, 3.0, 3.0, 3.0])  # a three-way tie: analytic 1/3 each, numeric 1/2
    with pytest.raises(GradcheckError) as exc:
        gradcheck(lambda t: t.max(), x)
    assert exc.value.kind == "kink"
    assert "lies between them" in str(exc.value)


def test_kink_within_eps_is_reported_as_straddled():
    x = t64([3e-7, 1.0])
    with pytest.raises(GradcheckError) as exc:
        gradcheck(ag.abs, x)
    assert exc.value.kind == "kink"
    assert "next to a non-differentiable point" in str(exc.value)
    assert "matching the analytic value 1" in str(exc.value)


def test_strong_curvature_is_not_mistaken_for_a_kink():
    # 1/x near 0.01 has |f''| = 2e6: one-sided differences differ by ~2, yet a wrong
    # gradient there must still be reported as a mismatch.
    class RecipWrong(ag.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return 1.0 / x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return -grad / (x * x) * 1.01

    with pytest.raises(GradcheckError) as exc:
        gradcheck(RecipWrong.apply, t64([0.01]))
    assert exc.value.kind == "mismatch"


# -- other failures and bad input ----------------------------------------------------------------
def test_nonfinite_forward():
    with np.errstate(divide="ignore"), pytest.raises(GradcheckError) as exc:
        gradcheck(ag.log, t64([0.0, 1.0]))
    assert exc.value.kind == "nonfinite"
    assert "not finite at the check point" in str(exc.value)


def test_nondeterministic_function():
    rng = np.random.default_rng(0)
    with pytest.raises(GradcheckError) as exc:
        gradcheck(lambda t: t * rng.standard_normal(), t64([1.0]))
    assert exc.value.kind == "nondeterministic"
    assert "not deterministic" in str(exc.value)


def test_bad_arguments():
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(ag.exp, ag.Tensor(np.ones(2)))
    with pytest.raises(TypeError, match="output 0 is a float"):
        gradcheck(lambda t: float(t.sum().item()), t64([1.0]))
    with pytest.raises(TypeError, match="mix Values and Tensors"):
        gradcheck(lambda a, b: a, (ag.Value(1.0), t64([1.0])))
    with pytest.raises(TypeError, match="first order only"):
        gradgradcheck(lambda a: a * a, ag.Value(1.0))
    with pytest.raises(TypeError, match="inputs must be"):
        gradcheck(ag.exp, 3.0)


def test_tolerances_are_used():
    x = t64([0.5, -1.0, 2.0])
    # analytic 2x^2 vs numeric 3x^2: relative error exactly 1/3 everywhere
    assert gradcheck(CubeOffByFactor.apply, x, rtol=0.51, atol=0.0)
    assert not gradcheck(CubeOffByFactor.apply, x, rtol=0.3, atol=0.0, raise_exception=False)


def test_draw_highlights_the_offending_input():
    if not hasattr(ag, "draw_graph"):
        pytest.skip("autograd.draw_graph is not available")
    x = t64([0.5, -1.0], "x")
    b = t64([1.0, 2.0], "b")
    with pytest.raises(GradcheckError) as exc:
        gradcheck(lambda x, b: CubeOffByFactor.apply(x) + b, (x, b))
    dot = exc.value.draw()
    src = dot.source
    assert "CubeOffByFactor" in src
    plain = ag.draw_graph(exc.value.fn(*[ag.Tensor(t.data, requires_grad=True, name=t.name)
                                         for t in exc.value.inputs]))
    assert src != plain.source  # the highlight changes the drawing
    marked = [line for line in src.splitlines() if "penwidth=3" in line]
    assert any("<CubeOffByFactor>" in line for line in marked)  # the op that takes x
    assert any("<B>x</B>" in line for line in marked)
    assert not any("<Add>" in line for line in marked)
