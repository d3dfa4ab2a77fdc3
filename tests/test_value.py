"""The micrograd-style scalar Value: values, gradients, and agreement with Tensor."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

import autograd as ag
from autograd import Value


def test_micrograd_sanity_example():
    # micrograd's test_sanity_check, with values worked out by hand
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    # y = z^2 + 2 z x + z x^2 with z = 3x + 2 (z < 0 so relu(z) = 0)
    xv = -4.0
    zv = 3 * xv + 2
    assert y.data == pytest.approx(zv * zv + zv * xv + zv * xv * xv)
    dz = 2 * zv + xv + xv * xv
    dx = dz * 3 + zv + 2 * zv * xv
    assert x.grad == pytest.approx(dx)


def test_all_ops_against_central_differences():
    def f(a, b):
        return ((a * b + a / b - b ** 3).tanh() + (a - 1.5).relu() + a.exp().log()
                + (-b).sigmoid() + 2 / a - 3 - a + 1 + 0.5 * b)

    a0, b0 = 0.7, -1.3
    a, b = Value(a0), Value(b0)
    out = f(a, b)
    out.backward()
    eps = 1e-6
    da = (f(Value(a0 + eps), Value(b0)).data - f(Value(a0 - eps), Value(b0)).data) / (2 * eps)
    db = (f(Value(a0), Value(b0 + eps)).data - f(Value(a0), Value(b0 - eps)).data) / (2 * eps)
    assert a.grad == pytest.approx(da, rel=1e-6)
    assert b.grad == pytest.approx(db, rel=1e-6)


def test_every_node_gets_its_gradient_and_label():
    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    e = a * b
    e.label = "e"
    d = e + 10.0
    d.backward()
    assert (a.grad, b.grad, e.grad, d.grad) == (-3.0, 2.0, 1.0, 1.0)
    assert a.label == "a" and e._op == "*" and set(e._prev) == {a, b}


def test_hooks_and_repr():
    a = Value(3.0)
    a.register_hook(lambda g: g * 2)
    (a * a).backward()
    assert a.grad == 12.0
    assert "data=3" in repr(a)


def test_pow_needs_number():
    with pytest.raises(TypeError):
        Value(2.0) ** Value(2.0)


class _ValueMLP:
    """micrograd's MLP on Values."""

    def __init__(self, weights):
        self.layers = [[[Value(w) for w in row] for row in W] for W in weights[0::2]]
        self.biases = [[Value(b) for b in bb] for bb in weights[1::2]]

    def __call__(self, x):
        h = [Value(v) for v in x]
        for i, (W, bb) in enumerate(zip(self.layers, self.biases)):
            out = []
            for row, b in zip(W, bb):
                act = sum((wi * hi for wi, hi in zip(row, h)), b)
                out.append(act.tanh() if i < len(self.layers) - 1 else act)
            h = out
        return h

    def parameters(self):
        ps = []
        for W, bb in zip(self.layers, self.biases):
            for row, b in zip(W, bb):
                ps += row + [b]
        return ps


def test_value_mlp_and_tensor_mlp_have_the_same_gradients():
    rng = np.random.default_rng(3)
    sizes = [3, 4, 4, 1]
    weights = []
    for nin, nout in zip(sizes[:-1], sizes[1:]):
        weights.append(rng.uniform(-1, 1, (nout, nin)))
        weights.append(rng.uniform(-1, 1, nout))
    X = rng.standard_normal((5, 3))
    y = rng.choice([-1.0, 1.0], 5)

    vm = _ValueMLP(weights)
    loss_v = sum(((vm(x)[0] - t) ** 2 for x, t in zip(X, y)), Value(0.0)) * (1.0 / len(X))
    loss_v.backward()

    ts = [ag.Tensor(w.copy(), requires_grad=True) for w in weights]
    h = ag.Tensor(X)
    for i in range(0, len(ts), 2):
        h = h @ ts[i].T + ts[i + 1]
        if i < len(ts) - 2:
            h = h.tanh()
    loss_t = ((h[:, 0] - y) ** 2).mean()
    loss_t.backward()

    assert loss_v.data == pytest.approx(loss_t.item(), rel=1e-12)
    flat_v = [p.grad for p in vm.parameters()]
    flat_t = []
    for W, b in zip(ts[0::2], ts[1::2]):
        for r in range(W.shape[0]):
            flat_t += list(W.grad.data[r]) + [b.grad.data[r]]
    np.testing.assert_allclose(flat_v, flat_t, rtol=1e-10, atol=1e-14)


def test_value_training_step_reduces_loss():
    random.seed(0)
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    weights = []
    rng = np.random.default_rng(0)
    for nin, nout in [(3, 4), (4, 4), (4, 1)]:
        weights += [rng.uniform(-1, 1, (nout, nin)), rng.uniform(-1, 1, nout)]
    mlp = _ValueMLP(weights)
    losses = []
    for _ in range(20):
        loss = sum(((mlp(x)[0] - y) ** 2 for x, y in zip(xs, ys)), Value(0.0))
        for p in mlp.parameters():
            p.grad = 0.0
        loss.backward()
        for p in mlp.parameters():
            p.data -= 0.05 * p.grad
        losses.append(loss.data)
    assert losses[-1] < 0.2 * losses[0]
    assert math.isfinite(losses[-1])
