"""Conv2d, MaxPool2d, AvgPool2d against loop-by-loop references written here, in float64.

The references loop over every output pixel (slow, obviously right); forward values and
gradients (accumulated window by window) must match the vectorized layers exactly, and
central differences check first and second order.
"""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
from helpers import check_first_order, check_second_order
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd as ag
from autograd import Tensor
from nn.layers.conv import AvgPool2d, Conv2d, MaxPool2d, avg_pool2d, conv2d, max_pool2d

needs_gradcheck = pytest.mark.skipif(not hasattr(ag, "gradgradcheck"),
                                     reason="autograd.gradcheck not available")


# -- loop references -----------------------------------------------------------------------
def _padded(x: np.ndarray, ph: int, pw: int, value: float = 0.0) -> np.ndarray:
    n, c, h, w = x.shape
    xp = np.full((n, c, h + 2 * ph, w + 2 * pw), value, dtype=np.float64)
    xp[:, :, ph:ph + h, pw:pw + w] = x
    return xp


def _out(h: int, k: int, s: int, p: int) -> int:
    return (h + 2 * p - k) // s + 1


def ref_conv2d(x, w, b, stride, padding):
    """Returns y and a function gy -> (gx, gw, gb), each by explicit loops."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    (sh, sw), (ph, pw) = stride, padding
    xp = _padded(x, ph, pw)
    ho, wo = _out(h, kh, sh, ph), _out(wd, kw, sw, pw)
    y = np.zeros((n, o, ho, wo))
    for bi in range(n):
        for oc in range(o):
            for i in range(ho):
                for j in range(wo):
                    win = xp[bi, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    y[bi, oc, i, j] = np.sum(win * w[oc]) + (b[oc] if b is not None else 0.0)

    def grads(gy):
        gxp = np.zeros_like(xp)
        gw = np.zeros_like(w, dtype=np.float64)
        gb = np.zeros(o)
        for bi in range(n):
            for oc in range(o):
                for i in range(ho):
                    for j in range(wo):
                        g = gy[bi, oc, i, j]
                        gxp[bi, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += g * w[oc]
                        gw[oc] += g * xp[bi, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                        gb[oc] += g
        return gxp[:, :, ph:ph + h, pw:pw + wd], gw, gb

    return y, grads


def ref_pool(x, kernel, stride, padding, kind):
    """Max (padding = -inf, ties share evenly) or mean (padding counted) pooling by loops."""
    n, c, h, wd = x.shape
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    xp = _padded(x, ph, pw, -np.inf if kind == "max" else 0.0)
    ho, wo = _out(h, kh, sh, ph), _out(wd, kw, sw, pw)
    y = np.zeros((n, c, ho, wo))
    share = np.zeros((n, c, ho, wo) + xp.shape[2:])
    for bi in range(n):
        for ch in range(c):
            for i in range(ho):
                for j in range(wo):
                    win = xp[bi, ch, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    sl = (bi, ch, i, j, slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw))
                    if kind == "max":
                        y[bi, ch, i, j] = win.max()
                        hits = win == win.max()
                        share[sl] = hits / hits.sum()
                    else:
                        y[bi, ch, i, j] = win.sum() / (kh * kw)
                        share[sl] = 1.0 / (kh * kw)

    def grad(gy):
        gxp = np.einsum("ncij,ncijhw->nchw", gy, share)
        return gxp[:, :, ph:ph + h, pw:pw + wd]

    return y, grad


# -- geometry strategy ---------------------------------------------------------------------
@st.composite
def conv_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, kh - 2 * ph), 7))
    w = draw(st.integers(max(1, kw - 2 * pw), 7))
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31))
    return (n, c, h, w), (o, c, kh, kw), (sh, sw), (ph, pw), seed


@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h = draw(st.integers(max(1, kh - 2 * ph), 7))
    w = draw(st.integers(max(1, kw - 2 * pw), 7))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    ties = draw(st.booleans())
    seed = draw(st.integers(0, 2**31))
    return (n, c, h, w), (kh, kw), (sh, sw), (ph, pw), ties, seed


# -- convolution ---------------------------------------------------------------------------
@settings(deadline=None, max_examples=40)
@given(conv_cases(), st.booleans())
def test_conv2d_matches_loop_reference_values_and_gradients(case, with_bias):
    xs, ws, stride, padding, seed = case
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[0]) if with_bias else None
    y_ref, grads = ref_conv2d(x, w, b, stride, padding)
    X, W = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    B = Tensor(b, requires_grad=True) if with_bias else None
    y = conv2d(X, W, B, stride=stride, padding=padding)
    assert y.shape == y_ref.shape
    np.testing.assert_allclose(y.data, y_ref, rtol=1e-12, atol=1e-12)
    gy = rng.standard_normal(y.shape)
    y.backward(Tensor(gy))
    gx, gw, gb = grads(gy)
    np.testing.assert_allclose(X.grad.data, gx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(W.grad.data, gw, rtol=1e-12, atol=1e-12)
    if with_bias:
        np.testing.assert_allclose(B.grad.data, gb, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride,padding", [(1, 0), ((2, 1), (1, 2)), (3, 1)])
def test_conv2d_central_differences_first_and_second_order(stride, padding):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 2, 5, 4)), rng.standard_normal((3, 2, 3, 2)), \
        rng.standard_normal(3)

    def f(x, w, b):  # a square makes the incoming gradient depend on x and w
        return conv2d(x, w, b, stride=stride, padding=padding) ** 2

    check_first_order(f, x, w, b)
    check_second_order(f, x, w, b)


def test_conv2d_third_order_through_nested_backward():
    """The backward Functions' own backwards are exercised when gradients of gradients of
    a composite (conv -> tanh -> conv) are differentiated again."""
    rng = np.random.default_rng(1)
    x, w1, w2 = (rng.standard_normal(s) for s in [(1, 2, 5, 5), (2, 2, 3, 3), (1, 2, 2, 2)])

    def f(x, w1, w2):
        return conv2d(ag.tanh(conv2d(x, w1, padding=1)), w2, stride=2)

    check_second_order(f, x, w1, w2)


@needs_gradcheck
def test_conv2d_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(2)
    ts = [Tensor(rng.standard_normal(s), requires_grad=True)
          for s in [(2, 3, 6, 5), (2, 3, 2, 3), (2,)]]

    def f(x, w, b):
        return conv2d(x, w, b, stride=(1, 2), padding=1)

    assert ag.gradcheck(f, ts)
    assert ag.gradgradcheck(f, ts)


def test_conv2d_keeps_float32_and_backward_without_input_grad():
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal((4, 1, 8, 8)).astype(np.float32))
    layer = Conv2d(1, 5, 3, padding=1, rng=0)
    y = layer(x)
    assert y.dtype == np.float32 and y.shape == (4, 5, 8, 8)
    y.sum().backward()
    assert layer.weight.grad.dtype == np.float32 and layer.bias.grad.dtype == np.float32
    _, grads = ref_conv2d(x.data.astype(np.float64), layer.weight.data.astype(np.float64),
                          None, (1, 1), (1, 1))
    _, gw, gb = grads(np.ones(y.shape))
    np.testing.assert_allclose(layer.weight.grad.data, gw, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(layer.bias.grad.data, gb, rtol=1e-5)
    assert x.grad is None


def test_conv2d_module_parameters_init_and_repr():
    layer = Conv2d(3, 8, (3, 5), stride=2, padding=(1, 2), rng=0)
    names = dict(layer.named_parameters())
    assert set(names) == {"weight", "bias"}
    assert layer.weight.shape == (8, 3, 3, 5) and layer.bias.shape == (8,)
    bound = 1 / np.sqrt(3 * 3 * 5)
    for p in (layer.weight, layer.bias):
        assert p.dtype == np.float32 and np.abs(p.data).max() <= bound
    assert layer.weight.data.std() > 0.4 * bound  # uniform(-b, b) has std b/sqrt(3)
    assert "Conv2d(3, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 2))" in repr(layer)
    assert Conv2d(1, 1, 2, bias=False).bias is None
    assert [n for n, _ in Conv2d(1, 1, 2, bias=False).named_parameters()] == ["weight"]
    same = Conv2d(3, 8, 3, rng=7).weight.data
    np.testing.assert_array_equal(same, Conv2d(3, 8, 3, rng=7).weight.data)


def test_conv2d_errors_name_expected_and_actual_shapes():
    layer = Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\).*\(2, 5, 8, 8\)"):
        layer(Tensor(np.zeros((2, 5, 8, 8), np.float32)))
    with pytest.raises(ValueError, match=r"4-d input.*\(3, 8, 8\)"):
        layer(Tensor(np.zeros((3, 8, 8), np.float32)))
    with pytest.raises(ValueError, match=r"kernel \(3, 3\) is larger than the padded input"):
        layer(Tensor(np.zeros((1, 3, 2, 8), np.float32)))
    with pytest.raises(ValueError, match=r"weight must be 4-d.*\(4, 3\)"):
        conv2d(Tensor(np.zeros((1, 3, 4, 4))), Tensor(np.zeros((4, 3))))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\).*\(3,\)"):
        conv2d(Tensor(np.zeros((1, 3, 4, 4))), Tensor(np.zeros((4, 3, 1, 1))),
               Tensor(np.zeros(3)))
    with pytest.raises(TypeError, match="floating"):
        layer(Tensor(np.zeros((1, 3, 4, 4), np.uint8)))
    with pytest.raises(ValueError, match="stride must be >= 1"):
        Conv2d(1, 1, 3, stride=0)
    with pytest.raises(TypeError, match="kernel_size must be an int or a pair"):
        Conv2d(1, 1, (3, 3, 3))


def test_conv2d_graph_is_freed_by_reference_counting():
    gc.disable()
    try:
        x = Tensor(np.ones((1, 1, 4, 4)), requires_grad=True)
        w = Tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
        y = conv2d(x, w)
        node = weakref.ref(y.grad_fn)
        y.sum().backward()
        del y
        assert node() is None
    finally:
        gc.enable()


# -- pooling -------------------------------------------------------------------------------
def _pool_input(shape, ties, rng):
    if ties:  # few distinct values: many tied maxima inside windows
        return rng.integers(-2, 2, size=shape).astype(np.float64)
    return rng.permutation(np.prod(shape)).reshape(shape).astype(np.float64) / 7.0


@settings(deadline=None, max_examples=40)
@given(pool_cases(), st.sampled_from(["max", "avg"]))
def test_pools_match_loop_reference_values_and_gradients(case, kind):
    shape, kernel, stride, padding, ties, seed = case
    rng = np.random.default_rng(seed)
    x = _pool_input(shape, ties, rng)
    y_ref, grad = ref_pool(x, kernel, stride, padding, kind)
    X = Tensor(x, requires_grad=True)
    pool = max_pool2d if kind == "max" else avg_pool2d
    y = pool(X, kernel, stride, padding)
    np.testing.assert_allclose(y.data, y_ref, rtol=1e-12, atol=1e-12)
    gy = rng.standard_normal(y.shape)
    y.backward(Tensor(gy))
    np.testing.assert_allclose(X.grad.data, grad(gy), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("kernel,stride,padding", [(2, None, 0), ((3, 2), (2, 1), (1, 1)),
                                                   (3, 1, 1)])
def test_pools_central_differences_first_and_second_order(kind, kernel, stride, padding):
    rng = np.random.default_rng(4)
    x = _pool_input((2, 2, 5, 6), False, rng)  # distinct values: away from max's kinks
    pool = max_pool2d if kind == "max" else avg_pool2d

    def f(x):
        return pool(x, kernel, stride, padding) ** 2

    check_first_order(f, x)
    check_second_order(f, x)


def test_max_pool_padding_is_minus_infinity_and_ties_share_evenly():
    x = Tensor(-np.ones((1, 1, 2, 2)), requires_grad=True)
    y = max_pool2d(x, 2, stride=1, padding=1)  # every window holds padding and -1s
    np.testing.assert_array_equal(y.data, -np.ones((1, 1, 3, 3)))
    y.sum().backward()
    # corner windows see one -1; edge windows two (1/2 each); the centre four (1/4 each)
    np.testing.assert_allclose(x.grad.data, np.full((1, 1, 2, 2), 1 + 0.5 + 0.5 + 0.25))


def test_avg_pool_counts_padding_in_the_mean():
    y = avg_pool2d(Tensor(np.ones((1, 1, 2, 2))), 2, stride=1, padding=1)
    np.testing.assert_allclose(y.data[0, 0], [[0.25, 0.5, 0.25], [0.5, 1, 0.5],
                                              [0.25, 0.5, 0.25]])


def test_pool_modules_and_errors():
    x = Tensor(np.arange(32, dtype=np.float32).reshape(1, 2, 4, 4))
    y = MaxPool2d(2)(x)
    assert y.dtype == np.float32 and y.shape == (1, 2, 2, 2)
    np.testing.assert_array_equal(y.data[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_allclose(AvgPool2d(2)(x).data[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    assert "kernel_size=2, stride=2" in repr(MaxPool2d(2))
    assert list(MaxPool2d(2).parameters()) == []
    with pytest.raises(ValueError, match="at most half the kernel size"):
        max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match=r"4-d input.*\(2, 4, 4\)"):
        MaxPool2d(2)(Tensor(np.zeros((2, 4, 4))))
    with pytest.raises(ValueError, match="larger than the padded input"):
        avg_pool2d(x, 5)


@needs_gradcheck
def test_max_pool_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(5)
    x = Tensor(_pool_input((2, 2, 5, 5), False, rng), requires_grad=True)

    def f(x):
        return max_pool2d(x, 3, 2, 1) ** 2 + avg_pool2d(x, 3, 2, 1)

    assert ag.gradcheck(f, [x])
    assert ag.gradgradcheck(f, [x])
