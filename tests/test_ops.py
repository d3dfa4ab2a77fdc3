"""Every op's value against numpy and its gradients (first and second order) against
central differences in float64, including broadcasting, repeated indices and reductions
over several axes. Kinked ops are checked away from their kinks."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_first_order, check_second_order

import autograd as ag

rng = np.random.default_rng(1234)


def away(shape, lo=0.2, hi=2.0, signed=True):
    """Values with |x| in [lo, hi], random signs: away from 0 kinks."""
    a = rng.uniform(lo, hi, size=shape)
    if signed:
        a *= rng.choice([-1.0, 1.0], size=shape)
    return a


def distinct(shape):
    """Values with no ties (for max/min away from their kinks)."""
    n = int(np.prod(shape)) if shape else 1
    return (rng.permutation(n).reshape(shape) * 0.37 + rng.uniform(0, 0.1, size=shape) - 1.0)


# name, function of tensors, input arrays, numpy reference of the value
CASES = [
    ("add", lambda a, b: a + b, [away((3, 4)), away((4,))], lambda a, b: a + b),
    ("add_bcast_both", lambda a, b: a + b, [away((3, 1)), away((1, 4))], lambda a, b: a + b),
    ("sub", lambda a, b: a - b, [away((2, 3)), away((2, 1))], lambda a, b: a - b),
    ("mul", lambda a, b: a * b, [away((2, 3, 4)), away((3, 1))], lambda a, b: a * b),
    ("mul_self", lambda a: a * a, [away((5,))], lambda a: a * a),
    ("div", lambda a, b: a / b, [away((3, 4)), away((4,))], lambda a, b: a / b),
    ("rdiv_scalar", lambda a: 2.0 / a, [away((4,))], lambda a: 2.0 / a),
    ("neg", lambda a: -a, [away((3,))], lambda a: -a),
    ("pow_scalar", lambda a: a ** 3, [away((3, 2))], lambda a: a ** 3),
    ("pow_half", lambda a: a ** 0.5, [away((4,), signed=False)], lambda a: a ** 0.5),
    ("pow_neg", lambda a: a ** -2, [away((4,))], lambda a: a ** -2.0),
    ("pow_tensor", lambda a, b: a ** b, [away((3,), signed=False), away((2, 3))],
     lambda a, b: a ** b),
    ("rpow", lambda a: 2.0 ** a, [away((3,))], lambda a: 2.0 ** a),
    ("exp", ag.exp, [away((3, 2))], np.exp),
    ("log", ag.log, [away((3, 2), signed=False)], np.log),
    ("sqrt", ag.sqrt, [away((4,), signed=False)], np.sqrt),
    ("abs", ag.abs, [away((2, 3))], np.abs),
    ("sin", ag.sin, [away((5,))], np.sin),
    ("cos", ag.cos, [away((5,))], np.cos),
    ("tanh", ag.tanh, [away((2, 3))], np.tanh),
    ("sigmoid", ag.sigmoid, [away((2, 3))], lambda a: 1 / (1 + np.exp(-a))),
    ("relu", ag.relu, [away((2, 3))], lambda a: np.maximum(a, 0)),
    ("leaky_relu", lambda a: ag.leaky_relu(a, 0.1), [away((2, 3))],
     lambda a: np.where(a > 0, a, 0.1 * a)),
    ("softplus", ag.softplus, [away((2, 3)) * 3], lambda a: np.log1p(np.exp(a))),
    ("clip", lambda a: ag.clip(a, -1.0, 1.0), [away((3, 3), 0.1, 1.9)],
     lambda a: np.clip(a, -1, 1)),
    ("maximum", ag.maximum, [distinct((3, 4)), distinct((4,)) + 0.05], np.maximum),
    ("minimum", ag.minimum, [distinct((3, 1)), distinct((1, 4)) + 0.05], np.minimum),
    ("where", lambda a, b: ag.where(np.array([True, False, True]), a, b),
     [away((2, 3)), away((3,))], lambda a, b: np.where([True, False, True], a, b)),
    ("sum_all", lambda a: a.sum(), [away((2, 3, 4))], np.sum),
    ("sum_axes", lambda a: a.sum(axis=(0, 2)), [away((2, 3, 4))],
     lambda a: a.sum(axis=(0, 2))),
    ("sum_keepdims", lambda a: a.sum(axis=-1, keepdims=True), [away((2, 3))],
     lambda a: a.sum(axis=-1, keepdims=True)),
    ("mean_axes", lambda a: a.mean(axis=(1, 2)), [away((2, 3, 4))],
     lambda a: a.mean(axis=(1, 2))),
    ("mean_all", lambda a: a.mean(), [away((3, 4))], np.mean),
    ("max_axis", lambda a: a.max(axis=1), [distinct((3, 4))], lambda a: a.max(axis=1)),
    ("max_axes_kd", lambda a: a.max(axis=(0, 2), keepdims=True), [distinct((2, 3, 4))],
     lambda a: a.max(axis=(0, 2), keepdims=True)),
    ("min_all", lambda a: a.min(), [distinct((3, 4))], np.min),
    ("var", lambda a: a.var(axis=0), [away((4, 3))], lambda a: a.var(axis=0)),
    ("var_ddof", lambda a: a.var(axis=(0, 1), ddof=1), [away((3, 4, 2))],
     lambda a: a.var(axis=(0, 1), ddof=1)),
    ("logsumexp", lambda a: a.logsumexp(axis=1), [away((3, 4)) * 3],
     lambda a: np.log(np.exp(a).sum(axis=1))),
    ("logsumexp_axes", lambda a: ag.logsumexp(a, axis=(0, 2), keepdims=True),
     [away((2, 3, 2))], lambda a: np.log(np.exp(a).sum(axis=(0, 2), keepdims=True))),
    ("softmax", lambda a: ag.softmax(a, axis=-1), [away((3, 4))],
     lambda a: np.exp(a) / np.exp(a).sum(-1, keepdims=True)),
    ("softmax_axis0", lambda a: a.softmax(axis=0), [away((3, 4))],
     lambda a: np.exp(a) / np.exp(a).sum(0, keepdims=True)),
    ("log_softmax", lambda a: ag.log_softmax(a, axis=1), [away((2, 5))],
     lambda a: a - np.log(np.exp(a).sum(1, keepdims=True))),
    ("reshape", lambda a: a.reshape(4, 3) * 1.5, [away((3, 4))], lambda a: a.reshape(4, 3) * 1.5),
    ("transpose", lambda a: a.transpose(2, 0, 1), [away((2, 3, 4))],
     lambda a: a.transpose(2, 0, 1)),
    ("T", lambda a: a.T, [away((2, 3))], lambda a: a.T),
    ("swapaxes", lambda a: a.swapaxes(0, 2), [away((2, 3, 4))], lambda a: a.swapaxes(0, 2)),
    ("squeeze", lambda a: a.squeeze(1), [away((3, 1, 2))], lambda a: a.squeeze(1)),
    ("unsqueeze", lambda a: a.unsqueeze(-1), [away((3, 2))], lambda a: a[..., None]),
    ("flatten", lambda a: a.flatten(), [away((2, 3, 2))], lambda a: a.ravel()),
    ("broadcast_to", lambda a: a.broadcast_to(2, 3, 4), [away((3, 1))],
     lambda a: np.broadcast_to(a, (2, 3, 4))),
    ("slice", lambda a: a[1:, ::2], [away((3, 5))], lambda a: a[1:, ::2]),
    ("int_index_repeats", lambda a: a[np.array([0, 2, 0, 0])], [away((3, 2))],
     lambda a: a[[0, 2, 0, 0]]),
    ("int_index_2d", lambda a: a[np.array([0, 1, 1]), np.array([2, 2, 0])], [away((2, 3))],
     lambda a: a[[0, 1, 1], [2, 2, 0]]),
    ("bool_mask", lambda a: a[np.array([[True, False, True], [False, True, True]])],
     [away((2, 3))], lambda a: a[np.array([[True, False, True], [False, True, True]])]),
    ("mixed_index", lambda a: a[:, [1, 1, 0]], [away((2, 3))], lambda a: a[:, [1, 1, 0]]),
    ("concatenate", lambda a, b: ag.concatenate([a, b, a], axis=1),
     [away((2, 3)), away((2, 1))], lambda a, b: np.concatenate([a, b, a], axis=1)),
    ("stack", lambda a, b: ag.stack([a, b], axis=1), [away((2, 3)), away((2, 3))],
     lambda a, b: np.stack([a, b], axis=1)),
    ("pad", lambda a: ag.pad(a, ((1, 0), (2, 1)), constant=0.5), [away((2, 3))],
     lambda a: np.pad(a, ((1, 0), (2, 1)), constant_values=0.5)),
    ("pad_int", lambda a: a.pad(1), [away((2, 2))], lambda a: np.pad(a, 1)),
    ("matmul_2d", lambda a, b: a @ b, [away((3, 4)), away((4, 2))], np.matmul),
    ("matmul_vec_vec", lambda a, b: a @ b, [away((4,)), away((4,))], np.matmul),
    ("matmul_mat_vec", lambda a, b: a @ b, [away((3, 4)), away((4,))], np.matmul),
    ("matmul_vec_mat", lambda a, b: a @ b, [away((4,)), away((4, 2))], np.matmul),
    ("matmul_batched", lambda a, b: a @ b, [away((2, 3, 4)), away((4, 2))], np.matmul),
    ("matmul_batched_bcast", lambda a, b: ag.matmul(a, b), [away((2, 1, 3, 4)), away((3, 4, 2))],
     np.matmul),
    ("matmul_vec_batched", lambda a, b: a @ b, [away((3,)), away((2, 3, 2))], np.matmul),
    ("matmul_batched_vec", lambda a, b: a @ b, [away((2, 2, 3)), away((3,))], np.matmul),
]


@pytest.mark.parametrize("name,fn,arrays,ref", CASES, ids=[c[0] for c in CASES])
def test_value_matches_numpy(name, fn, arrays, ref):
    out = fn(*[ag.Tensor(a) for a in arrays])
    np.testing.assert_allclose(out.data, ref(*arrays), rtol=1e-12)


@pytest.mark.parametrize("name,fn,arrays,ref", CASES, ids=[c[0] for c in CASES])
def test_first_order(name, fn, arrays, ref):
    check_first_order(fn, *arrays)


@pytest.mark.parametrize("name,fn,arrays,ref", CASES, ids=[c[0] for c in CASES])
def test_second_order(name, fn, arrays, ref):
    check_second_order(fn, *arrays)


def test_astype_gradient_casts_back():
    x = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x.astype(np.float32)
    assert y.dtype == np.float32
    (y * y * 3).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.data, [6.0, 12.0])


def test_exact_formulas():
    x = ag.Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    (x.tanh() * x.exp()).sum().backward()
    a = x.data
    expected = (1 - np.tanh(a) ** 2) * np.exp(a) + np.tanh(a) * np.exp(a)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12)

    # d2/dx2 of x**3 is 6x; of sin is -sin
    x = ag.Tensor(np.array([0.3, -2.0]), requires_grad=True)
    (g,) = ag.grad((x ** 3 + ag.sin(x)).sum(), [x], create_graph=True)
    (h,) = ag.grad(g.sum(), [x])
    np.testing.assert_allclose(h.data, 6 * x.data - np.sin(x.data), rtol=1e-12)


def test_third_order_tanh():
    x = ag.Tensor(np.array([0.4]), requires_grad=True)
    y = x.tanh()
    (g1,) = ag.grad(y.sum(), [x], create_graph=True)
    (g2,) = ag.grad(g1.sum(), [x], create_graph=True)
    (g3,) = ag.grad(g2.sum(), [x])
    t = np.tanh(0.4)
    np.testing.assert_allclose(g3.data, [-2 * (1 - t * t) * (1 - 3 * t * t)], rtol=1e-12)


def test_ties_share_gradient_evenly():
    x = ag.Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.data, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    a = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = ag.Tensor(np.array([1.0, 3.0]), requires_grad=True)
    ag.maximum(a, b).sum().backward()
    np.testing.assert_allclose(a.grad.data, [0.5, 0.0])
    np.testing.assert_allclose(b.grad.data, [0.5, 1.0])
    x = ag.Tensor(np.array([4.0, 1.0, 1.0]), requires_grad=True)
    x.min().backward()
    np.testing.assert_allclose(x.grad.data, [0, 0.5, 0.5])


def test_repeated_indices_accumulate():
    x = ag.Tensor(np.zeros(4), requires_grad=True)
    idx = np.array([1, 1, 3, 1])
    (x[idx] * np.array([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0, 7, 0, 3])
    # an integer Tensor works as an index too
    x = ag.Tensor(np.ones((3, 2)), requires_grad=True)
    x[ag.Tensor(np.array([2, 2]))].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 0], [0, 0], [2, 2]])


def test_boolean_mask_from_comparison():
    x = ag.Tensor(np.array([-1.0, 2.0, -3.0, 4.0]), requires_grad=True)
    (x[x > 0] ** 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0, 4, 0, 8])


def test_stable_softmax_family_with_huge_inputs():
    big = np.array([[1000.0, 1000.0, -1000.0]])
    x = ag.Tensor(big, requires_grad=True)
    s = ag.softmax(x)
    np.testing.assert_allclose(s.data, [[0.5, 0.5, 0.0]])
    np.testing.assert_allclose(ag.log_softmax(ag.Tensor(big)).data, [[-np.log(2), -np.log(2),
                                                                       -2000 - np.log(2)]])
    np.testing.assert_allclose(ag.logsumexp(ag.Tensor(big), axis=1).data, [1000 + np.log(2)])
    np.testing.assert_allclose(ag.softplus(ag.Tensor(np.array([1000.0, -1000.0]))).data,
                               [1000.0, 0.0])
    np.testing.assert_allclose(ag.sigmoid(ag.Tensor(np.array([1000.0, -1000.0]))).data,
                               [1.0, 0.0])
    ag.logsumexp(x, axis=1).sum().backward()
    assert np.isfinite(x.grad.data).all()
    # logsumexp of an all -inf row is -inf, not nan
    out = ag.logsumexp(ag.Tensor(np.array([-np.inf, -np.inf])))
    assert out.item() == -np.inf


def test_no_nan_gradient_at_domain_edges():
    # log and sqrt at 0 in the untaken branch of where get a zero, not a nan, gradient
    x = ag.Tensor(np.array([0.0, 4.0]), requires_grad=True)
    y = ag.where(x.data > 0, ag.sqrt(x), 0.0) + ag.where(x.data > 0, ag.log(x), 0.0)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.0, 0.25 + 0.25])
    x = ag.Tensor(np.array([0.0, 2.0]), requires_grad=True)
    ag.where(x.data != 0, 1.0 / x, 0.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.0, -0.25])
    # x ** 0.5 at 0 with zero upstream gradient
    x = ag.Tensor(np.array([0.0, 1.0]), requires_grad=True)
    (x ** 0.5 * np.array([0.0, 1.0])).sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.0, 0.5])


def test_kink_conventions():
    x = ag.Tensor(np.array([0.0, 0.0, 0.0]), requires_grad=True)
    (ag.relu(x) + ag.abs(x) + ag.leaky_relu(x, 0.2)).sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.2, 0.2, 0.2])
    x = ag.Tensor(np.array([-1.0, 0.0, 1.0, 2.0]), requires_grad=True)
    ag.clip(x, 0.0, 1.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, [0, 1, 1, 0])


@pytest.mark.parametrize("op", [
    lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b, lambda a, b: a / b,
    lambda a, b: ag.maximum(a, b), lambda a, b: ag.where(np.array(True), a, b),
])
def test_float32_gradients_stay_float32_under_broadcasting(op):
    a = ag.Tensor(np.ones((3, 1), np.float32) * 2, requires_grad=True)
    b = ag.Tensor(np.ones((4,), np.float32) * 3, requires_grad=True)
    out = op(a, b)
    assert out.dtype == np.float32
    out.sum().backward()
    assert a.grad.dtype == np.float32 and a.grad.shape == (3, 1)
    assert b.grad.dtype == np.float32 and b.grad.shape == (4,)


def test_mixed_precision_gradients_take_each_inputs_dtype():
    a = ag.Tensor(np.ones(3, np.float32), requires_grad=True)
    b = ag.Tensor(np.ones(3, np.float64), requires_grad=True)
    out = a * b
    assert out.dtype == np.float64
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_numpy_scalars_do_not_upcast():
    a = ag.Tensor(np.ones(3, np.float32), requires_grad=True)
    out = a * np.float64(2.0) + np.sqrt(2.0)
    assert out.dtype == np.float32


def test_numpy_array_on_the_left():
    t = ag.Tensor(np.arange(3.0), requires_grad=True)
    out = np.ones(3) + t
    assert isinstance(out, ag.Tensor)
    out2 = np.eye(3) @ t
    assert isinstance(out2, ag.Tensor)
    (out * out2).sum().backward()
    np.testing.assert_allclose(t.grad.data, 2 * np.arange(3.0) + 1)
    assert isinstance(np.float64(2.0) * t, ag.Tensor)


def test_comparisons_return_bool_tensors_without_grad():
    a = ag.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    for res, exp in [(a < 2, [1, 0, 0]), (a <= 2, [1, 1, 0]), (a > 2, [0, 0, 1]),
                     (a >= 2, [0, 1, 1]), (a == 2, [0, 1, 0]), (a != 2, [1, 0, 1])]:
        assert isinstance(res, ag.Tensor) and res.dtype == np.bool_
        assert not res.requires_grad
        np.testing.assert_array_equal(res.data, np.array(exp, bool))


class TestShapeErrors:
    def test_broadcast_error_names_op_and_both_shapes(self):
        with pytest.raises(ValueError, match=r"Add.*\(2, 3\).*\(4,\)"):
            ag.Tensor(np.ones((2, 3))) + ag.Tensor(np.ones(4))
        with pytest.raises(ValueError, match=r"Mul.*\(2, 3\).*\(2,\)"):
            ag.Tensor(np.ones((2, 3))) * np.ones(2)

    def test_matmul_error_names_both_shapes(self):
        with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
            ag.Tensor(np.ones((2, 3))) @ ag.Tensor(np.ones((4, 5)))
        with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
            ag.matmul(np.ones(3), ag.Tensor(np.ones(4)))

    def test_reshape_error(self):
        with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 2\)"):
            ag.Tensor(np.ones((2, 3))).reshape(4, 2)

    def test_bad_axis(self):
        with pytest.raises(ValueError, match="axis 3"):
            ag.Tensor(np.ones((2, 3))).sum(axis=3)

    def test_index_error_names_shape(self):
        with pytest.raises(IndexError, match=r"\(2, 3\)"):
            ag.Tensor(np.ones((2, 3)))[5]

    def test_stack_needs_same_shapes(self):
        with pytest.raises(ValueError, match="same shape"):
            ag.stack([ag.Tensor(np.ones(2)), ag.Tensor(np.ones(3))])


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_transposed_matmul_used_by_backward(ta, tb):
    from autograd.ops.linalg import MatMulT

    a = away((2, 4, 3) if ta else (2, 3, 4))
    b = away((5, 4) if tb else (4, 5))
    ref = (a.swapaxes(-1, -2) if ta else a) @ (b.T if tb else b)
    np.testing.assert_allclose(MatMulT.apply(ag.Tensor(a), ag.Tensor(b), ta=ta, tb=tb).data, ref)

    def f(x, y):
        return MatMulT.apply(x, y, ta=ta, tb=tb)

    check_first_order(f, a, b)
    check_second_order(f, a, b)
