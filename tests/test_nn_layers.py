"""Layers: Linear, activations, Maxout, Dropout, Flatten, Perceptron, MLP."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import check_first_order, check_second_order

import autograd as ag
import nn
import nn.functional as F
from autograd.engine import topological_order

X_BOOL = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
GATES = {"AND": [0, 0, 0, 1], "OR": [0, 1, 1, 1], "NAND": [1, 1, 1, 0], "XOR": [0, 1, 1, 0]}


def _ops(out: ag.Tensor) -> list[str]:
    return [v.name for v in topological_order([out.grad_fn]) if not isinstance(v, ag.Tensor)]


# -- Linear ---------------------------------------------------------------------------------
def test_linear_forward_matches_numpy_and_is_one_node():
    rng = np.random.default_rng(0)
    lin = nn.Linear(4, 3, rng=0)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    out = lin(ag.Tensor(x))
    assert out.shape == (5, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out.data, x @ lin.weight.data.T + lin.bias.data, rtol=1e-6)
    assert _ops(out) == ["Affine"]  # one matmul and one add, one graph node
    # numpy input, 1-d input, batched 3-d input
    np.testing.assert_allclose(lin(x).data, out.data)
    np.testing.assert_allclose(lin(ag.Tensor(x[0])).data, out.data[0], rtol=1e-6)
    x3 = rng.standard_normal((2, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(lin(x3).data, x3 @ lin.weight.data.T + lin.bias.data, rtol=1e-5)
    nb = nn.Linear(4, 3, bias=False)
    assert nb.bias is None and [n for n, _ in nb.named_parameters()] == ["weight"]
    np.testing.assert_allclose(nb(x).data, x @ nb.weight.data.T, rtol=1e-6)


def test_linear_gradients_first_and_second_order():
    rng = np.random.default_rng(1)
    x2, x1, x3 = rng.standard_normal((5, 4)), rng.standard_normal(4), rng.standard_normal(
        (2, 3, 4))
    w, b = rng.standard_normal((3, 4)), rng.standard_normal(3)
    for x in (x2, x1, x3):
        check_first_order(F.linear, x, w, b)
        check_second_order(F.linear, x, w, b)
        check_first_order(lambda x, w: F.linear(x, w), x, w)
    # gradients are those of x @ w.T + b, in closed form
    xt, wt, bt = (ag.Tensor(a, requires_grad=True) for a in (x2, w, b))
    g = rng.standard_normal((5, 3))
    F.linear(xt, wt, bt).backward(g)
    np.testing.assert_allclose(xt.grad.data, g @ w)
    np.testing.assert_allclose(wt.grad.data, g.T @ x2)
    np.testing.assert_allclose(bt.grad.data, g.sum(0))


def test_linear_errors():
    lin = nn.Linear(4, 3)
    with pytest.raises(ValueError, match=r"shape \(2, 5\) has 5 features .* weight of shape "
                                         r"\(3, 4\) expects 4"):
        lin(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="positive sizes"):
        nn.Linear(0, 3)


# -- activations ----------------------------------------------------------------------------
def test_activation_modules_match_numpy():
    x = np.linspace(-3, 3, 13).reshape(1, 13)
    t = ag.Tensor(x)
    np.testing.assert_allclose(nn.ReLU()(t).data, np.maximum(x, 0))
    np.testing.assert_allclose(nn.Sigmoid()(t).data, 1 / (1 + np.exp(-x)), rtol=1e-12)
    np.testing.assert_allclose(nn.Tanh()(t).data, np.tanh(x))
    np.testing.assert_allclose(nn.LeakyReLU(0.2)(t).data, np.where(x > 0, x, 0.2 * x))
    np.testing.assert_allclose(nn.LeakyReLU()(t).data, np.where(x > 0, x, 0.01 * x))
    m = np.arange(6.0).reshape(2, 3)
    e0 = np.exp(m - m.max(0)) / np.exp(m - m.max(0)).sum(0)
    np.testing.assert_allclose(nn.Softmax(axis=0)(ag.Tensor(m)).data, e0)
    e1 = np.exp(m) / np.exp(m).sum(1, keepdims=True)
    np.testing.assert_allclose(nn.Softmax()(ag.Tensor(m)).data, e1)
    np.testing.assert_allclose(nn.LogSoftmax(1)(ag.Tensor(m)).data, np.log(e1))
    assert nn.Identity()(t) is t
    assert repr(nn.Softmax(0)) == "Softmax(axis=0)"
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    np.testing.assert_allclose(F.leaky_relu(t, 0.3).data, np.where(x > 0, x, 0.3 * x))
    np.testing.assert_allclose(F.tanh(t).data, np.tanh(x))
    np.testing.assert_allclose(F.relu(t).data, np.maximum(x, 0))


def test_maxout_matches_reference_and_has_gradients():
    rng = np.random.default_rng(2)
    mo = nn.Maxout(4, 3, pieces=5, dtype=np.float64, rng=0)
    assert mo.weight.shape == (15, 4) and mo.bias.shape == (15,)
    x = rng.standard_normal((6, 4))
    z = x @ mo.weight.data.T + mo.bias.data
    ref = z.reshape(6, 3, 5).max(axis=-1)
    np.testing.assert_allclose(mo(ag.Tensor(x)).data, ref)

    def f(x, w, b):
        return F.linear(x, w, b).reshape(6, 3, 5).max(axis=-1)

    check_first_order(f, x, mo.weight.data, mo.bias.data)
    # the gradient reaches exactly the winning piece of each unit
    out = mo(ag.Tensor(x))
    out.sum().backward()
    winners = z.reshape(6, 3, 5).argmax(-1)
    expected_b = np.zeros((3, 5))
    for i, j in itertools.product(range(6), range(3)):
        expected_b[j, winners[i, j]] += 1
    np.testing.assert_allclose(mo.bias.grad.data, expected_b.reshape(15))


def test_maxout_learns_abs():
    # |x| = max(x, -x): a Maxout with 2 pieces represents it exactly, so training should
    # drive the error to ~0 (an affine model cannot go below the variance of |x|)
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, (64, 1))
    y = np.abs(x)
    mo = nn.Maxout(1, 1, pieces=2, dtype=np.float64, rng=1)
    opt = nn.optim.Adam(mo.parameters(), lr=0.05)
    for _ in range(400):
        loss = F.mse_loss(mo(ag.Tensor(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-4
    assert sorted(np.round(mo.weight.data.ravel(), 2)) == [-1.0, 1.0]


# -- dropout and flatten ------------------------------------------------------------------
def test_dropout_is_inverted_and_identity_in_eval():
    d = nn.Dropout(0.3, rng=0)
    x = ag.Tensor(np.ones((200, 500), np.float32), requires_grad=True)
    y = d(x)
    kept = y.data != 0
    assert abs(1 - kept.mean() - 0.3) < 0.01
    np.testing.assert_allclose(y.data[kept], 1 / 0.7, rtol=1e-6)
    assert abs(y.data.mean() - 1.0) < 0.01  # expectation unchanged
    y.backward(np.full(y.shape, 2.0, np.float32))
    np.testing.assert_allclose(x.grad.data, 2.0 * y.data, rtol=1e-6)  # gradient = mask
    d.eval()
    assert d(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert not nn.Dropout(1.0)(x).data.any()
    a = nn.Dropout(0.5, rng=5)(x).data
    b = nn.Dropout(0.5, rng=5)(x).data
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"in \[0, 1\], got 1.5"):
        nn.Dropout(1.5)
    assert F.dropout(x, 0.5, training=False) is x


def test_flatten():
    x = ag.Tensor(np.arange(24.0).reshape(2, 3, 4))
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0)(x).shape == (24,)
    assert nn.Flatten(1, 1)(x).shape == (2, 3, 4)
    assert nn.Flatten()(np.zeros((2, 2, 2))).shape == (2, 4)


# -- Perceptron -----------------------------------------------------------------------------
@pytest.mark.parametrize("gate", ["AND", "OR", "NAND"])
def test_perceptron_learns_linearly_separable_gates(gate):
    p = nn.Perceptron(2)
    mistakes = p.fit(X_BOOL, GATES[gate], epochs=100, lr=1.0)
    assert mistakes[-1] == 0 and len(mistakes) < 100
    np.testing.assert_array_equal(p.predict(X_BOOL), GATES[gate])
    np.testing.assert_array_equal(p(ag.Tensor(X_BOOL)).data, GATES[gate])
    assert p.predict(X_BOOL).dtype == np.int64


def test_perceptron_rule_is_the_classic_one():
    p = nn.Perceptron(2, dtype=np.float64)
    p.fit(X_BOOL, GATES["AND"], epochs=1, lr=0.5)
    # by hand: zero start; (1,1) -> predicted 0, target 1: w = 0.5*(1,1), b = 0.5; then
    # nothing else changes within the epoch (samples in order 00, 01, 10, 11)
    np.testing.assert_array_equal(p.weight.data, [0.5, 0.5])
    assert p.bias.data == 0.5


def test_perceptron_cannot_learn_xor():
    # 1. for no number of epochs does it classify all four points
    for epochs in range(1, 60):
        p = nn.Perceptron(2)
        p.fit(X_BOOL, GATES["XOR"], epochs=epochs)
        assert (p.predict(X_BOOL) == GATES["XOR"]).sum() < 4
    # 2. the training is deterministic and its state (integer weights) returns to an earlier
    #    one after an epoch with mistakes, so it cycles forever and never converges
    p = nn.Perceptron(2)
    seen: dict[tuple, int] = {}
    mistakes: list[int] = []
    for epoch in range(100):
        key = (tuple(p.weight.data.tolist()), float(p.bias.data))
        if key in seen:
            cycle = mistakes[seen[key]:]
            assert cycle and min(cycle) > 0  # every epoch of the cycle makes mistakes
            break
        seen[key] = epoch
        mistakes += p.fit(X_BOOL, GATES["XOR"], epochs=1)
    else:
        pytest.fail("no cycle found")
    # 3. no affine threshold f(x) = w.x + b separates XOR: f(01) + f(10) = f(00) + f(11)
    #    for every w, b, so f(01) > 0 and f(10) > 0 force f(00) > 0 or f(11) > 0
    rng = np.random.default_rng(0)
    for w0, w1, b in rng.standard_normal((2000, 3)) * 10:
        f = X_BOOL @ np.array([w0, w1]) + b
        assert np.isclose(f[1] + f[2], f[0] + f[3])
        assert ((f > 0).astype(int) != GATES["XOR"]).any()


def test_perceptron_errors():
    p = nn.Perceptron(2)
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        p.fit(X_BOOL, [0, 1, 2, -1])
    with pytest.raises(ValueError, match=r"expected inputs of shape \(n, 2\), got \(4, 3\)"):
        p.predict(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="4 samples but 3 labels"):
        p.fit(X_BOOL, [0, 1, 1])


# -- MLP ------------------------------------------------------------------------------------
def test_mlp_structure():
    m = nn.MLP([784, 256, 10])
    assert [type(x).__name__ for x in m] == ["Linear", "ReLU", "Linear"]
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert m[0].weight.shape == (256, 784)
    m = nn.MLP([3, 4, 5, 2], activation="tanh", dropout=0.1)
    assert [type(x).__name__ for x in m] == ["Linear", "Tanh", "Dropout", "Linear", "Tanh",
                                             "Dropout", "Linear"]
    assert repr(m).startswith("MLP(\n  (0): Linear(in_features=3, out_features=4, bias=True)")
    m = nn.MLP([2, 3, 1], activation=lambda: nn.LeakyReLU(0.1))
    assert m[1].negative_slope == 0.1
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        nn.MLP([2, 2], activation="swish")
    with pytest.raises(ValueError, match="at least two positive sizes"):
        nn.MLP([5])
    with pytest.raises(TypeError, match="not an instance"):
        nn.MLP([2, 3, 1], activation=nn.ReLU())


def test_mlp_forward_matches_numpy_and_eval_disables_dropout():
    m = nn.MLP([3, 8, 2], dropout=0.5, rng=0, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((4, 3))
    w0, b0, w1, b1 = (p.data for p in m.parameters())
    ref = np.maximum(x @ w0.T + b0, 0) @ w1.T + b1
    m.eval()
    np.testing.assert_allclose(m(x).data, ref)
    m.train()
    assert not np.allclose(m(x).data, ref)


def test_mlp_learns_xor_with_adam():
    y = np.array(GATES["XOR"])
    m = nn.MLP([2, 8, 2], rng=0)
    opt = nn.optim.Adam(m.parameters(), lr=0.05)
    x = ag.Tensor(X_BOOL)
    for _ in range(300):
        loss = F.cross_entropy(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (m(x).data.argmax(1) == y).sum() == 4
    assert loss.item() < 0.05
