"""autograd.functional against exact formulas (no finite differences anywhere)."""

from __future__ import annotations

import numpy as np
import pytest

import autograd as ag
from autograd.functional import hessian, hvp, jacobian, jvp, vjp

RNG = np.random.default_rng(7)
A = RNG.standard_normal((3, 4))
S = RNG.standard_normal((4, 4))  # not symmetric on purpose
X = RNG.standard_normal(4)
V = RNG.standard_normal(4)


def t(a, requires_grad=False):
    return ag.Tensor(np.array(a, dtype=np.float64), requires_grad=requires_grad)


def softmax_np(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def test_jacobian_of_a_linear_map_is_its_matrix():
    J = jacobian(lambda x: ag.Tensor(A) @ x, t(X))
    assert J.shape == (3, 4)
    np.testing.assert_allclose(J.data, A, rtol=1e-14)
    assert J.grad_fn is None


def test_jacobian_shape_is_out_shape_plus_in_shape():
    x = t(RNG.standard_normal((2, 3)))
    J = jacobian(lambda x: x * 2.0, x)
    assert J.shape == (2, 3, 2, 3)
    np.testing.assert_array_equal(J.data.reshape(6, 6), 2.0 * np.eye(6))


def test_softmax_jacobian():
    s = softmax_np(X)
    J = jacobian(ag.softmax, t(X))
    np.testing.assert_allclose(J.data, np.diag(s) - np.outer(s, s), atol=1e-15)


def test_jacobian_tuple_inputs_and_outputs():
    a, b = RNG.standard_normal(3), RNG.standard_normal(3)
    (ja, jb) = jacobian(lambda a, b: a * b, (t(a), t(b)))
    np.testing.assert_allclose(ja.data, np.diag(b))
    np.testing.assert_allclose(jb.data, np.diag(a))
    (j_sum, j_sq) = jacobian(lambda x: (x.sum(), x * x), t(a))
    assert j_sum.shape == (3,) and j_sq.shape == (3, 3)
    np.testing.assert_allclose(j_sum.data, np.ones(3))
    np.testing.assert_allclose(j_sq.data, np.diag(2 * a))
    both = jacobian(lambda a, b: (a.sum(), a * b), (t(a), t(b)))
    assert both[0][1].shape == (3,) and both[1][0].shape == (3, 3)
    np.testing.assert_allclose(both[0][1].data, np.zeros(3))  # a.sum() ignores b


def test_jacobian_of_a_constant_output_is_zero():
    J = jacobian(lambda x: ag.Tensor(np.ones(2)), t(X))
    np.testing.assert_array_equal(J.data, np.zeros((2, 4)))


def test_jacobian_keeps_float32():
    x = ag.Tensor(np.array([1.0, 2.0], dtype=np.float32))
    J = jacobian(lambda x: x * x, x)
    assert J.dtype == np.float32
    np.testing.assert_allclose(J.data, np.diag([2.0, 4.0]))


def test_hessian_of_a_quadratic_form():
    H = hessian(lambda x: x @ (ag.Tensor(S) @ x), t(X))
    assert H.shape == (4, 4)
    np.testing.assert_allclose(H.data, S + S.T, rtol=1e-13, atol=1e-14)


def test_hessian_of_logsumexp():
    s = softmax_np(X)
    H = hessian(ag.logsumexp, t(X))
    np.testing.assert_allclose(H.data, np.diag(s) - np.outer(s, s), atol=1e-15)


def test_hessian_tuple_inputs():
    x, y = RNG.standard_normal(2), RNG.standard_normal(2)
    H = hessian(lambda x, y: (x * y).sum() + (x ** 2).sum() * 0.5, (t(x), t(y)))
    np.testing.assert_allclose(H[0][0].data, np.eye(2))
    np.testing.assert_allclose(H[0][1].data, np.eye(2))
    np.testing.assert_allclose(H[1][0].data, np.eye(2))
    np.testing.assert_allclose(H[1][1].data, np.zeros((2, 2)))


def test_hessian_of_a_linear_function_is_zero():
    H = hessian(lambda x: (x * 3.0).sum(), t(X))
    np.testing.assert_array_equal(H.data, np.zeros((4, 4)))


def test_vjp_of_a_linear_map():
    u = RNG.standard_normal(3)
    out, g = vjp(lambda x: ag.Tensor(A) @ x, t(X), t(u))
    np.testing.assert_allclose(out.data, A @ X)
    np.testing.assert_allclose(g.data, A.T @ u, rtol=1e-14)
    assert out.grad_fn is None and g.grad_fn is None


def test_vjp_scalar_output_without_v_and_tuple_inputs():
    out, (ga, gb) = vjp(lambda a, b: (a * b).sum(), (t(X), t(V)))
    assert out.item() == pytest.approx(X @ V)
    np.testing.assert_allclose(ga.data, V)
    np.testing.assert_allclose(gb.data, X)


def test_jvp_of_a_linear_map_and_of_a_nonlinear_one():
    out, jv = jvp(lambda x: ag.Tensor(A) @ x, t(X), t(V))
    np.testing.assert_allclose(jv.data, A @ V, rtol=1e-13)
    _, jv = jvp(lambda x: x.tanh(), t(X), t(V))
    np.testing.assert_allclose(jv.data, (1 - np.tanh(X) ** 2) * V, rtol=1e-13)


def test_hvp_is_exact_not_a_finite_difference():
    out, hv = hvp(lambda x: x @ (ag.Tensor(S) @ x), t(X), t(V))
    assert out.item() == pytest.approx(X @ S @ X)
    np.testing.assert_allclose(hv.data, (S + S.T) @ V, rtol=1e-13, atol=1e-14)
    _, hv = hvp(lambda x: x.exp().sum(), t(X), t(V))
    np.testing.assert_allclose(hv.data, np.exp(X) * V, rtol=1e-14)  # FD would be ~1e-7 off


def test_hvp_tuple_inputs():
    x, y = RNG.standard_normal(3), RNG.standard_normal(3)
    vx, vy = RNG.standard_normal(3), RNG.standard_normal(3)
    # f = sum(x^2 y): H_xx = diag(2y), H_xy = diag(2x), H_yy = 0
    _, (hx, hy) = hvp(lambda x, y: (x * x * y).sum(), (t(x), t(y)), (t(vx), t(vy)))
    np.testing.assert_allclose(hx.data, 2 * y * vx + 2 * x * vy)
    np.testing.assert_allclose(hy.data, 2 * x * vx)


def test_create_graph_makes_results_differentiable():
    x = t([0.5, -1.0, 2.0], requires_grad=True)
    J = jacobian(lambda x: x ** 3, x, create_graph=True)  # diag(3 x^2)
    (g,) = ag.grad(J.sum(), x)
    np.testing.assert_allclose(g.data, 6 * x.data)
    v = t([1.0, 2.0, -1.0])
    _, hv = hvp(lambda x: (x ** 4).sum() / 12.0, x, v, create_graph=True)  # x^2 v
    (g3,) = ag.grad(hv.sum(), x)
    np.testing.assert_allclose(g3.data, 2 * x.data * v.data)
    H = hessian(lambda x: (x ** 4).sum() / 12.0, x, create_graph=True)
    (g4,) = ag.grad(H.sum(), x)
    np.testing.assert_allclose(g4.data, 2 * x.data)


def test_inputs_are_not_modified_and_need_not_require_grad():
    x = t(X)
    jacobian(ag.exp, x)
    hvp(lambda x: x.exp().sum(), x, t(V))
    assert x.grad is None and not x.requires_grad
    np.testing.assert_array_equal(x.data, X)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"hessian: f must return a single one-element "
                                         r"Tensor, got shape \(4,\)"):
        hessian(ag.exp, t(X))
    with pytest.raises(ValueError, match=r"hvp: v\[0\] has shape \(3,\) but input 0 has "
                                         r"shape \(4,\)"):
        hvp(lambda x: x.sum(), t(X), t(np.ones(3)))
    with pytest.raises(ValueError, match="v may be omitted only"):
        vjp(ag.exp, t(X))
    with pytest.raises(TypeError, match=r"jacobian: x\[0\] is a list"):
        jacobian(ag.exp, [[1.0, 2.0]])
    with pytest.raises(TypeError, match="only floating point"):
        jacobian(ag.exp, ag.Tensor(np.arange(3)))
