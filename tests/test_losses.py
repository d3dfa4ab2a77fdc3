"""Losses: values and gradients against formulas written here in numpy (float64)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_first_order, check_second_order
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd as ag
import nn
import nn.functional as F
from autograd.engine import topological_order

RNG = np.random.default_rng(0)
REDUCTIONS = ["mean", "sum", "none"]


def _reduce_ref(v: np.ndarray, reduction: str) -> np.ndarray:
    return {"mean": v.mean(), "sum": v.sum(), "none": v}[reduction]


def _grad_weights(shape: tuple, reduction: str, rng: np.random.Generator) -> np.ndarray:
    """The upstream gradient used for backward, and how each element is weighted."""
    if reduction == "none":
        return rng.standard_normal(shape)
    return np.float64(1.0)


def _run(fn, x: np.ndarray, *args, reduction: str, **kw):
    """Value of fn(x, ...) and the gradient w.r.t. x for the upstream gradient g."""
    xt = ag.Tensor(x.copy(), requires_grad=True)
    out = fn(xt, *args, reduction=reduction, **kw)
    g = _grad_weights(out.shape, reduction, np.random.default_rng(1))
    out.backward(np.asarray(g, dtype=np.float64))
    return out.data, xt.grad.data, g


def _scale(g, reduction: str, n: int) -> np.ndarray:
    """d(reduced)/d(elementwise loss), times the upstream gradient."""
    return {"mean": g / n, "sum": g, "none": g}[reduction]


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


# -- regression losses ----------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_and_l1(reduction):
    x, t = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    val, grad, g = _run(F.mse_loss, x, t, reduction=reduction)
    np.testing.assert_allclose(val, _reduce_ref((x - t) ** 2, reduction), rtol=1e-12)
    np.testing.assert_allclose(grad, 2 * (x - t) * _scale(g, reduction, x.size), rtol=1e-12)
    val, grad, g = _run(F.l1_loss, x, t, reduction=reduction)
    np.testing.assert_allclose(val, _reduce_ref(np.abs(x - t), reduction), rtol=1e-12)
    np.testing.assert_allclose(grad, np.sign(x - t) * _scale(g, reduction, x.size), rtol=1e-12)


def test_regression_losses_target_gradient_and_errors():
    x, t = RNG.standard_normal(5), RNG.standard_normal(5)
    tt = ag.Tensor(t.copy(), requires_grad=True)
    F.mse_loss(ag.Tensor(x), tt).backward()
    np.testing.assert_allclose(tt.grad.data, -2 * (x - t) / 5, rtol=1e-12)
    with pytest.raises(ValueError, match=r"mse_loss: the target of shape \(5, 1\) does not "
                                         r"match the input of shape \(5,\)"):
        F.mse_loss(ag.Tensor(x), t[:, None])
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.l1_loss(ag.Tensor(x), t, reduction="avg")
    # a float64 numpy target does not change a float32 input's loss dtype
    assert F.mse_loss(ag.Tensor(x.astype(np.float32)), t).dtype == np.float32
    check_second_order(lambda a, b: F.mse_loss(a, b), x, t)


# -- cross-entropy and NLL ------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_integer_targets(reduction):
    x = RNG.standard_normal((6, 4)) * 3
    t = RNG.integers(0, 4, 6)
    val, grad, g = _run(F.cross_entropy, x, t, reduction=reduction)
    logp = _log_softmax(x, 1)
    per = -logp[np.arange(6), t]
    np.testing.assert_allclose(val, _reduce_ref(per, reduction), rtol=1e-12)
    onehot = np.eye(4)[t]
    sm = np.exp(logp)
    w = np.broadcast_to(_scale(g, reduction, 6), (6,))[:, None]
    np.testing.assert_allclose(grad, (sm - onehot) * w, rtol=1e-10, atol=1e-14)
    # NLL on log-probabilities gives the same values, gradient -onehot
    val2, grad2, g2 = _run(F.nll_loss, logp, t, reduction=reduction)
    np.testing.assert_allclose(val2, val, rtol=1e-12)
    w2 = np.broadcast_to(_scale(g2, reduction, 6), (6,))[:, None]
    np.testing.assert_allclose(grad2, -onehot * w2, rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probability_targets(reduction):
    x = RNG.standard_normal((5, 3))
    t = RNG.random((5, 3))  # rows need not sum to 1
    val, grad, g = _run(F.cross_entropy, x, t, reduction=reduction)
    logp = _log_softmax(x, 1)
    per = -(t * logp).sum(1)
    np.testing.assert_allclose(val, _reduce_ref(per, reduction), rtol=1e-12)
    w = np.broadcast_to(_scale(g, reduction, 5), (5,))[:, None]
    expected = (np.exp(logp) * t.sum(1, keepdims=True) - t) * w
    np.testing.assert_allclose(grad, expected, rtol=1e-10, atol=1e-14)
    # one-hot probabilities agree with class indices
    cls = RNG.integers(0, 3, 5)
    np.testing.assert_allclose(F.cross_entropy(ag.Tensor(x), np.eye(3)[cls]).data,
                               F.cross_entropy(ag.Tensor(x), cls).data, rtol=1e-12)


@settings(deadline=None, max_examples=40)
@given(n=st.integers(1, 6), c=st.integers(1, 6), scale=st.sampled_from([1e-3, 1.0, 30.0, 1e3]),
       seed=st.integers(0, 2**16))
def test_cross_entropy_and_bce_logits_property(n, c, scale, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c)) * scale
    t = rng.integers(0, c, n)
    xt = ag.Tensor(x.copy(), requires_grad=True)
    loss = F.cross_entropy(xt, t, reduction="sum")
    logp = _log_softmax(x, 1)
    np.testing.assert_allclose(loss.data, -logp[np.arange(n), t].sum(), rtol=1e-10, atol=1e-12)
    loss.backward()
    np.testing.assert_allclose(xt.grad.data, np.exp(logp) - np.eye(c)[t], rtol=1e-9,
                               atol=1e-12)
    y = rng.random((n, c))
    xt.grad = None
    loss = F.binary_cross_entropy_with_logits(xt, y, reduction="sum")
    np.testing.assert_allclose(loss.data, (_softplus(x) - x * y).sum(), rtol=1e-10)
    loss.backward()
    sig = np.exp(-_softplus(-x))
    np.testing.assert_allclose(xt.grad.data, sig - y, rtol=1e-9, atol=1e-12)


def test_cross_entropy_is_stable_for_huge_logits():
    x = np.array([[1e4, 0.0, -1e4], [0.0, 3e4, 0.0]], dtype=np.float32)
    t = np.array([1, 1])
    xt = ag.Tensor(x, requires_grad=True)
    loss = F.cross_entropy(xt, t, reduction="none")
    np.testing.assert_allclose(loss.data, [1e4, 0.0], rtol=1e-6)
    loss.sum().backward()
    assert np.isfinite(xt.grad.data).all()
    np.testing.assert_allclose(xt.grad.data, [[1, -1, 0], [0, 0, 0]], atol=1e-6)
    assert np.isfinite(F.binary_cross_entropy_with_logits(
        ag.Tensor(np.array([1e4, -1e4], np.float32)), np.array([0.0, 1.0])).data)


def test_cross_entropy_uses_a_gather_not_a_one_hot_matmul():
    x = ag.Tensor(RNG.standard_normal((8, 5)), requires_grad=True)
    loss = F.cross_entropy(x, RNG.integers(0, 5, 8))
    names = [v.name for v in topological_order([loss.grad_fn]) if not isinstance(v, ag.Tensor)]
    assert "LogSoftmax" in names and "Gather" in names and "MatMul" not in names


def test_cross_entropy_spatial_unbatched_and_ignore_index():
    x = RNG.standard_normal((2, 4, 3))  # (N, C, d)
    t = RNG.integers(0, 4, (2, 3))
    logp = _log_softmax(x, 1)
    per = -np.take_along_axis(logp, t[:, None, :], 1)[:, 0, :]
    np.testing.assert_allclose(F.cross_entropy(ag.Tensor(x), t, reduction="none").data, per,
                               rtol=1e-12)
    check_first_order(lambda a: F.cross_entropy(a, t), x)
    # unbatched: (C,) logits and a scalar class
    v = RNG.standard_normal(4)
    np.testing.assert_allclose(F.cross_entropy(ag.Tensor(v), np.int64(2)).data,
                               -_log_softmax(v, 0)[2], rtol=1e-12)
    # ignore_index: those rows add nothing and the mean is over the others
    x2 = RNG.standard_normal((5, 3))
    t2 = np.array([0, -100, 2, 1, -100])
    xt = ag.Tensor(x2, requires_grad=True)
    loss = F.cross_entropy(xt, t2)
    lp = _log_softmax(x2, 1)
    keep = [0, 2, 3]
    np.testing.assert_allclose(loss.data, -lp[keep, t2[keep]].mean(), rtol=1e-12)
    loss.backward()
    assert not xt.grad.data[[1, 4]].any()
    expected = (np.exp(lp[keep]) - np.eye(3)[t2[keep]]) / 3
    np.testing.assert_allclose(xt.grad.data[keep], expected, rtol=1e-10)
    np.testing.assert_allclose(F.cross_entropy(ag.Tensor(x2), t2, reduction="sum").data,
                               -lp[keep, t2[keep]].sum(), rtol=1e-12)


def test_cross_entropy_second_order():
    t = RNG.integers(0, 4, 5)
    x = RNG.standard_normal((5, 4))
    check_second_order(lambda a: F.cross_entropy(a, t), x)
    p = RNG.random((5, 4))
    check_second_order(lambda a, b: F.cross_entropy(a, b), x, p)
    check_second_order(lambda a: F.nll_loss(a, t, reduction="sum"), x)


def test_class_target_errors():
    x = ag.Tensor(RNG.standard_normal((3, 4)))
    with pytest.raises(IndexError, match="target class 4 is out of range for 4 classes"):
        F.cross_entropy(x, np.array([0, 4, 1]))
    with pytest.raises(IndexError, match="target class -1 is out of range"):
        F.nll_loss(x, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match=r"class targets of shape \(2,\) do not match the "
                                         r"input of shape \(3, 4\)"):
        F.cross_entropy(x, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"target of shape \(3, 3\) does not match"):
        F.cross_entropy(x, np.ones((3, 3)))
    with pytest.raises(TypeError, match="bool targets are ambiguous"):
        F.cross_entropy(x, np.ones(3, bool))
    with pytest.raises(TypeError, match="must be a floating tensor"):
        F.cross_entropy(np.ones((2, 2), int), np.array([0, 1]))


# -- binary cross-entropy -------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(reduction):
    p = RNG.uniform(0.05, 0.95, (4, 3))
    t = RNG.random((4, 3))
    val, grad, g = _run(F.binary_cross_entropy, p, t, reduction=reduction)
    per = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    np.testing.assert_allclose(val, _reduce_ref(per, reduction), rtol=1e-12)
    np.testing.assert_allclose(grad, (p - t) / (p * (1 - p)) * _scale(g, reduction, p.size),
                               rtol=1e-10)


def test_binary_cross_entropy_edges_weight_and_target_grad():
    # logs clamp at -100 (PyTorch), so certain wrong answers cost 100, not inf
    p = ag.Tensor(np.array([0.0, 1.0, 0.0, 1.0]), requires_grad=True)
    loss = F.binary_cross_entropy(p, np.array([1.0, 0.0, 0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(loss.data, [100.0, 100.0, 0.0, 0.0])
    loss.sum().backward()
    assert np.isfinite(p.grad.data).all()
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        F.binary_cross_entropy(ag.Tensor(np.array([1.5])), np.array([1.0]))
    pv, tv, wv = RNG.uniform(0.1, 0.9, 6), RNG.random(6), RNG.random(6)
    per = -(tv * np.log(pv) + (1 - tv) * np.log(1 - pv))
    np.testing.assert_allclose(F.binary_cross_entropy(ag.Tensor(pv), tv, weight=wv).data,
                               (per * wv).mean(), rtol=1e-12)
    tt = ag.Tensor(tv.copy(), requires_grad=True)
    F.binary_cross_entropy(ag.Tensor(pv), tt, reduction="sum").backward()
    np.testing.assert_allclose(tt.grad.data, np.log(1 - pv) - np.log(pv), rtol=1e-12)
    check_second_order(lambda a, b: F.binary_cross_entropy(a, b), pv, tv)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits(reduction):
    x = RNG.standard_normal((3, 5)) * 4
    t = RNG.random((3, 5))
    val, grad, g = _run(F.binary_cross_entropy_with_logits, x, t, reduction=reduction)
    per = _softplus(x) - x * t
    np.testing.assert_allclose(val, _reduce_ref(per, reduction), rtol=1e-12)
    sig = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(grad, (sig - t) * _scale(g, reduction, x.size), rtol=1e-10)


def test_binary_cross_entropy_with_logits_stability_pos_weight_weight():
    x = ag.Tensor(np.array([1000.0, -1000.0, 1000.0, -1000.0, 0.0]), requires_grad=True)
    t = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    np.testing.assert_allclose(loss.data, [1000.0, 1000.0, 0.0, 0.0, np.log(2)], rtol=1e-12)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.data, [1, -1, 0, 0, -0.5])
    xv, tv = RNG.standard_normal((4, 3)) * 3, RNG.random((4, 3))
    pw, wv = np.array([0.5, 2.0, 3.0]), RNG.random((4, 3))
    xt = ag.Tensor(xv.copy(), requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(xt, tv, weight=wv, pos_weight=pw)
    # -(pw t log s(x) + (1 - t) log(1 - s(x))), with log s(x) = -softplus(-x)
    per = pw * tv * _softplus(-xv) + (1 - tv) * _softplus(xv)
    np.testing.assert_allclose(loss.data, (per * wv).mean(), rtol=1e-12)
    loss.backward()
    sig = 1 / (1 + np.exp(-xv))
    np.testing.assert_allclose(xt.grad.data, (-pw * tv * (1 - sig) + (1 - tv) * sig) * wv / 12,
                               rtol=1e-10)
    check_second_order(lambda a, b: F.binary_cross_entropy_with_logits(a, b), xv, tv)
    check_second_order(lambda a: F.binary_cross_entropy_with_logits(a, tv, pos_weight=pw), xv)


# -- KL divergence --------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", [*REDUCTIONS, "batchmean"])
def test_kl_div(reduction):
    logq = _log_softmax(RNG.standard_normal((4, 5)), 1)
    p = np.exp(_log_softmax(RNG.standard_normal((4, 5)), 1))
    p[0, :2] = 0.0  # 0 log 0 = 0
    xt = ag.Tensor(logq.copy(), requires_grad=True)
    out = F.kl_div(xt, p, reduction=reduction)
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where(p > 0, p * (np.log(p) - logq), 0.0)
    ref = per.sum() / 4 if reduction == "batchmean" else _reduce_ref(per, reduction)
    np.testing.assert_allclose(out.data, ref, rtol=1e-12)
    assert np.isfinite(out.data).all()
    g = np.random.default_rng(2).standard_normal(out.shape)
    out.backward(g)
    scale = {"mean": g / 20, "sum": g, "none": g, "batchmean": g / 4}[reduction]
    np.testing.assert_allclose(xt.grad.data, -p * scale, rtol=1e-12)
    # log_target: the same divergence with the target given as log-probabilities
    with np.errstate(divide="ignore"):
        logp = np.log(p)
    out2 = F.kl_div(ag.Tensor(logq), logp, reduction=reduction, log_target=True)
    np.testing.assert_allclose(out2.data, ref, rtol=1e-12)


def test_kl_div_batchmean_is_the_divergence_and_target_gradient():
    logq = _log_softmax(RNG.standard_normal((3, 4)), 1)
    p = np.exp(_log_softmax(RNG.standard_normal((3, 4)), 1))
    kl = (p * (np.log(p) - logq)).sum(1).mean()
    np.testing.assert_allclose(F.kl_div(ag.Tensor(logq), p, reduction="batchmean").data, kl,
                               rtol=1e-12)
    pt = ag.Tensor(p.copy(), requires_grad=True)
    F.kl_div(ag.Tensor(logq), pt, reduction="sum").backward()
    np.testing.assert_allclose(pt.grad.data, np.log(p) + 1 - logq, rtol=1e-12)
    check_second_order(lambda a, b: F.kl_div(a, b, log_target=True), logq, np.log(p))
    with pytest.raises(ValueError, match="batchmean"):
        F.kl_div(ag.Tensor(logq), p, reduction="avg")


# -- modules and helpers --------------------------------------------------------------------
def test_loss_modules_equal_functions():
    x = RNG.standard_normal((4, 3))
    prob = 1 / (1 + np.exp(-x))
    t = RNG.random((4, 3))
    cls = RNG.integers(0, 3, 4)
    logp = _log_softmax(x, 1)
    pairs = [
        (nn.MSELoss(), F.mse_loss, x, t),
        (nn.L1Loss(reduction="sum"), lambda a, b: F.l1_loss(a, b, "sum"), x, t),
        (nn.CrossEntropyLoss(), F.cross_entropy, x, cls),
        (nn.NLLLoss(), F.nll_loss, logp, cls),
        (nn.BCELoss(), F.binary_cross_entropy, prob, t),
        (nn.BCEWithLogitsLoss(pos_weight=np.array([2.0, 1.0, 0.5])),
         lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=[2.0, 1.0, 0.5]),
         x, t),
        (nn.KLDivLoss(reduction="batchmean", log_target=True),
         lambda a, b: F.kl_div(a, b, "batchmean", True), logp, logp[::-1].copy()),
    ]
    for module, fn, a, b in pairs:
        np.testing.assert_allclose(module(ag.Tensor(a), b).data, fn(ag.Tensor(a), b).data,
                                   rtol=1e-12, err_msg=type(module).__name__)
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss(reduction='mean')"


def test_l1_penalty():
    model = nn.MLP([3, 4, 2], rng=0, dtype=np.float64)
    params = list(model.parameters())
    pen = F.l1_penalty(params, 0.01)
    np.testing.assert_allclose(pen.data, 0.01 * sum(np.abs(p.data).sum() for p in params),
                               rtol=1e-12)
    pen.backward()
    for p in params:
        np.testing.assert_allclose(p.grad.data, 0.01 * np.sign(p.data))
    with pytest.raises(ValueError, match="no parameters"):
        F.l1_penalty([])


def test_against_torch_when_available():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = RNG.standard_normal((5, 4))
    cls = RNG.integers(0, 4, 5)
    t = RNG.random((5, 4))
    cases = [
        (F.cross_entropy, tf.cross_entropy, cls),
        (F.cross_entropy, tf.cross_entropy, t),
        (F.binary_cross_entropy_with_logits, tf.binary_cross_entropy_with_logits, t),
        (F.mse_loss, tf.mse_loss, t),
        (F.l1_loss, tf.l1_loss, t),
    ]
    for ours, theirs, target in cases:
        xt = ag.Tensor(x.copy(), requires_grad=True)
        ours(xt, target).backward()
        tx = torch.tensor(x, requires_grad=True)
        tt = torch.tensor(target)
        theirs(tx, tt).backward()
        np.testing.assert_allclose(xt.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-14)
