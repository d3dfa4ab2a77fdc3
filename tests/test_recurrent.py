"""RNN, LSTM (and cells), Embedding against numpy references written here, in float64.

The references run the recurrence step by step and backpropagate through time by hand
(the textbook equations), so outputs, final states and every gradient are compared with
an independent implementation; central differences check first and second order.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_first_order, check_second_order
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd as ag
from autograd import Tensor
from nn.layers.embedding import Embedding, embedding
from nn.layers.recurrent import LSTM, RNN, LSTMCell, RNNCell, lstm, rnn

needs_gradcheck = pytest.mark.skipif(not hasattr(ag, "gradgradcheck"),
                                     reason="autograd.gradcheck not available")


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def ref_lstm(x, w_ih, w_hh, b_ih, b_hh, h0, c0):
    """Forward by loops; returns (out, h_n, c_n) and a BPTT function of the output grads."""
    B, T, _ = x.shape
    H = w_hh.shape[1]
    h, c = h0.copy(), c0.copy()
    cache, outs = [], []
    for t in range(T):
        z = x[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i, f, g, o = _sig(z[:, :H]), _sig(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), \
            _sig(z[:, 3 * H:])
        c_new = f * c + i * g
        h_new = o * np.tanh(c_new)
        cache.append((h, c, i, f, g, o, c_new))
        h, c = h_new, c_new
        outs.append(h)
    out = np.stack(outs, axis=1)

    def bptt(g_out, g_h, g_c):
        grads = {k: np.zeros_like(v) for k, v in
                 dict(x=x, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh).items()}
        dh_next, dc_next = g_h.copy(), g_c.copy()
        for t in reversed(range(T)):
            h_prev, c_prev, i, f, g, o, c_t = cache[t]
            dh = g_out[:, t] + dh_next
            tc = np.tanh(c_t)
            do = dh * tc
            dc = dc_next + dh * o * (1 - tc ** 2)
            di, dg, df = dc * g, dc * i, dc * c_prev
            dz = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g ** 2),
                                 do * o * (1 - o)], axis=1)
            grads["w_ih"] += dz.T @ x[:, t]
            grads["w_hh"] += dz.T @ h_prev
            grads["b_ih"] += dz.sum(0)
            grads["b_hh"] += dz.sum(0)
            grads["x"][:, t] = dz @ w_ih
            dh_next, dc_next = dz @ w_hh, dc * f
        grads["h0"], grads["c0"] = dh_next, dc_next
        return grads

    return (out, h, c), bptt


def ref_rnn(x, w_ih, w_hh, b_ih, b_hh, h0, nonlinearity):
    B, T, _ = x.shape
    h = h0.copy()
    cache, outs = [], []
    for t in range(T):
        z = x[:, t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        h_new = np.tanh(z) if nonlinearity == "tanh" else np.maximum(z, 0)
        cache.append((h, z, h_new))
        h = h_new
        outs.append(h)
    out = np.stack(outs, axis=1)

    def bptt(g_out, g_h):
        grads = {k: np.zeros_like(v) for k, v in
                 dict(x=x, w_ih=w_ih, w_hh=w_hh, b_ih=b_ih, b_hh=b_hh).items()}
        dh_next = g_h.copy()
        for t in reversed(range(T)):
            h_prev, z, h_t = cache[t]
            dh = g_out[:, t] + dh_next
            dz = dh * (1 - h_t ** 2) if nonlinearity == "tanh" else dh * (z > 0)
            grads["w_ih"] += dz.T @ x[:, t]
            grads["w_hh"] += dz.T @ h_prev
            grads["b_ih"] += dz.sum(0)
            grads["b_hh"] += dz.sum(0)
            grads["x"][:, t] = dz @ w_ih
            dh_next = dz @ w_hh
        grads["h0"] = dh_next
        return grads

    return (out, h), bptt


@st.composite
def seq_cases(draw):
    return (draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 4)),
            draw(st.integers(1, 4)), draw(st.booleans()), draw(st.integers(0, 2**31)))


def _leaf(a):
    return Tensor(a, requires_grad=True)


@settings(deadline=None, max_examples=30)
@given(seq_cases())
def test_lstm_matches_reference_outputs_states_and_gradients(case):
    B, T, I, H, with_state, seed = case
    rng = np.random.default_rng(seed)
    layer = LSTM(I, H, dtype=np.float64, rng=seed)
    params = {n: p.data for n, p in layer.named_parameters()}
    x = rng.standard_normal((B, T, I))
    h0 = rng.standard_normal((B, H)) if with_state else np.zeros((B, H))
    c0 = rng.standard_normal((B, H)) if with_state else np.zeros((B, H))
    (out_r, h_r, c_r), bptt = ref_lstm(x, params["weight_ih"], params["weight_hh"],
                                       params["bias_ih"], params["bias_hh"], h0, c0)
    X, H0, C0 = _leaf(x), _leaf(h0[None]), _leaf(c0[None])
    out, (h_n, c_n) = layer(X, (H0, C0) if with_state else None)
    assert out.shape == (B, T, H) and h_n.shape == c_n.shape == (1, B, H)
    np.testing.assert_allclose(out.data, out_r, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_n.data[0], h_r, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c_n.data[0], c_r, rtol=1e-12, atol=1e-12)
    g_out, g_h, g_c = (rng.standard_normal(s) for s in [(B, T, H), (B, H), (B, H)])
    ((out * g_out).sum() + (h_n * g_h).sum() + (c_n * g_c).sum()).backward()
    ref = bptt(g_out, g_h, g_c)
    np.testing.assert_allclose(X.grad.data, ref["x"], rtol=1e-10, atol=1e-12)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        got = dict(layer.named_parameters())[name].grad.data
        np.testing.assert_allclose(got, ref[name.replace("weight", "w").replace("bias", "b")],
                                   rtol=1e-10, atol=1e-12, err_msg=name)
    if with_state:
        np.testing.assert_allclose(H0.grad.data[0], ref["h0"], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(C0.grad.data[0], ref["c0"], rtol=1e-10, atol=1e-12)


@settings(deadline=None, max_examples=30)
@given(seq_cases(), st.sampled_from(["tanh", "relu"]))
def test_rnn_matches_reference_outputs_states_and_gradients(case, nonlinearity):
    B, T, I, H, with_state, seed = case
    rng = np.random.default_rng(seed)
    layer = RNN(I, H, nonlinearity=nonlinearity, dtype=np.float64, rng=seed)
    p = {n: q.data for n, q in layer.named_parameters()}
    x = rng.standard_normal((B, T, I))
    h0 = rng.standard_normal((B, H)) if with_state else np.zeros((B, H))
    (out_r, h_r), bptt = ref_rnn(x, p["weight_ih"], p["weight_hh"], p["bias_ih"],
                                 p["bias_hh"], h0, nonlinearity)
    X, H0 = _leaf(x), _leaf(h0[None])
    out, h_n = layer(X, H0 if with_state else None)
    assert out.shape == (B, T, H) and h_n.shape == (1, B, H)
    np.testing.assert_allclose(out.data, out_r, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_n.data[0], h_r, rtol=1e-12, atol=1e-12)
    g_out, g_h = rng.standard_normal((B, T, H)), rng.standard_normal((B, H))
    ((out * g_out).sum() + (h_n * g_h).sum()).backward()
    ref = bptt(g_out, g_h)
    np.testing.assert_allclose(X.grad.data, ref["x"], rtol=1e-10, atol=1e-12)
    for name, q in layer.named_parameters():
        np.testing.assert_allclose(q.grad.data,
                                   ref[name.replace("weight", "w").replace("bias", "b")],
                                   rtol=1e-10, atol=1e-12, err_msg=name)
    if with_state:
        np.testing.assert_allclose(H0.grad.data[0], ref["h0"], rtol=1e-10, atol=1e-12)


def _small(rng, gates, I=2, H=2):
    return [rng.standard_normal(s) * 0.7 for s in
            [(2, 3, I), (gates * H, I), (gates * H, H), (gates * H,), (gates * H,), (1, 2, H),
             (1, 2, H)]]


def test_lstm_central_differences_first_and_second_order():
    x, w_ih, w_hh, b_ih, b_hh, h0, c0 = _small(np.random.default_rng(0), 4)

    def f(x, w_ih, w_hh, b_ih, b_hh, h0, c0):
        out, (h, c) = lstm(x, w_ih, w_hh, b_ih, b_hh, (h0, c0))
        return out.sum(axis=1) + h[0] * c[0]

    check_first_order(f, x, w_ih, w_hh, b_ih, b_hh, h0, c0)
    check_second_order(f, x, w_ih, w_hh, b_ih, b_hh, h0, c0)


def test_rnn_central_differences_first_and_second_order():
    x, w_ih, w_hh, b_ih, b_hh, h0, _ = _small(np.random.default_rng(1), 1)

    def f(x, w_ih, w_hh, b_ih, b_hh, h0):
        out, h = rnn(x, w_ih, w_hh, b_ih, b_hh, h0)
        return out ** 2 + h[0].sum()

    check_first_order(f, x, w_ih, w_hh, b_ih, b_hh, h0)
    check_second_order(f, x, w_ih, w_hh, b_ih, b_hh, h0)


@needs_gradcheck
def test_lstm_and_rnn_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(2)
    lt = [_leaf(a) for a in _small(rng, 4)]
    rt = [_leaf(a) for a in _small(rng, 1)[:6]]

    def f_lstm(x, w_ih, w_hh, b_ih, b_hh, h0, c0):
        out, (h, c) = lstm(x, w_ih, w_hh, b_ih, b_hh, (h0, c0))
        return out.sum() + (c ** 2).sum()

    def f_rnn(x, w_ih, w_hh, b_ih, b_hh, h0):
        return rnn(x, w_ih, w_hh, b_ih, b_hh, h0)[0]

    for f, ts in ((f_lstm, lt), (f_rnn, rt)):
        assert ag.gradcheck(f, ts)
        assert ag.gradgradcheck(f, ts)


def test_lstm_gate_order_is_i_f_g_o():
    """Zero weights and biases that saturate one gate at a time: with x = 0 the step is
    c = sigmoid(b_f) * c0 + sigmoid(b_i) * tanh(b_g), h = sigmoid(b_o) * tanh(c)."""
    layer = LSTM(1, 1, dtype=np.float64)
    for p in layer.parameters():
        p.data = np.zeros_like(p.data)
    layer.bias_ih.data = np.array([20.0, -20.0, 0.5, 0.0])  # i open, f shut, g=tanh(.5), o=.5
    _, (h, c) = layer(Tensor(np.zeros((1, 1, 1))), (Tensor(np.full((1, 1, 1), 3.0)),
                                                    Tensor(np.full((1, 1, 1), 3.0))))
    np.testing.assert_allclose(c.data.ravel(), [np.tanh(0.5)], rtol=1e-7)
    np.testing.assert_allclose(h.data.ravel(), [0.5 * np.tanh(np.tanh(0.5))], rtol=1e-7)


def test_parameters_names_shapes_init_and_dtype():
    lstm_layer = LSTM(3, 5, rng=0)
    shapes = {n: p.shape for n, p in lstm_layer.named_parameters()}
    assert shapes == {"weight_ih": (20, 3), "weight_hh": (20, 5), "bias_ih": (20,),
                      "bias_hh": (20,)}
    rnn_layer = RNN(3, 5, rng=0)
    assert {n: p.shape for n, p in rnn_layer.named_parameters()} == {
        "weight_ih": (5, 3), "weight_hh": (5, 5), "bias_ih": (5,), "bias_hh": (5,)}
    bound = 1 / np.sqrt(5)
    for p in list(lstm_layer.parameters()) + list(rnn_layer.parameters()):
        assert p.dtype == np.float32 and np.abs(p.data).max() <= bound
    assert np.abs(lstm_layer.weight_ih.data).max() > 0.5 * bound
    assert [n for n, _ in LSTM(2, 2, bias=False).named_parameters()] == ["weight_ih",
                                                                          "weight_hh"]
    assert set(lstm_layer.state_dict()) == set(shapes)
    assert repr(LSTM(3, 5)).startswith("LSTM(3, 5)")
    assert "nonlinearity='relu'" in repr(RNN(3, 5, nonlinearity="relu"))
    out, (h, c) = lstm_layer(Tensor(np.ones((2, 4, 3), np.float32)))
    assert out.dtype == h.dtype == c.dtype == np.float32


def test_time_major_and_unbatched_inputs_agree_with_batch_first():
    layer = LSTM(3, 4, dtype=np.float64, rng=1)
    x = np.random.default_rng(3).standard_normal((2, 5, 3))
    out, (h, c) = layer(Tensor(x))
    tm = LSTM(3, 4, batch_first=False, dtype=np.float64, rng=1)
    out_tm, (h_tm, _) = tm(Tensor(x.transpose(1, 0, 2)))
    np.testing.assert_allclose(out_tm.data.transpose(1, 0, 2), out.data, rtol=1e-12)
    np.testing.assert_allclose(h_tm.data, h.data, rtol=1e-12)
    out_u, (h_u, c_u) = layer(Tensor(x[1]))
    assert out_u.shape == (5, 4) and h_u.shape == c_u.shape == (1, 4)
    np.testing.assert_allclose(out_u.data, out.data[1], rtol=1e-12)
    np.testing.assert_allclose(c_u.data, c.data[:, 1], rtol=1e-12)


def test_cells_equal_one_step_of_the_layers():
    rng = np.random.default_rng(4)
    x, h, c = (rng.standard_normal(s) for s in [(2, 3), (2, 4), (2, 4)])
    cell, layer = LSTMCell(3, 4, dtype=np.float64, rng=5), LSTM(3, 4, dtype=np.float64, rng=5)
    h1, c1 = cell(Tensor(x), (Tensor(h), Tensor(c)))
    _, (h2, c2) = layer(Tensor(x[:, None]), (Tensor(h[None]), Tensor(c[None])))
    np.testing.assert_allclose(h1.data, h2.data[0], rtol=1e-12)
    np.testing.assert_allclose(c1.data, c2.data[0], rtol=1e-12)
    rcell, rlayer = RNNCell(3, 4, dtype=np.float64, rng=6), RNN(3, 4, dtype=np.float64, rng=6)
    np.testing.assert_allclose(rcell(Tensor(x), Tensor(h)).data,
                               rlayer(Tensor(x[:, None]), Tensor(h[None]))[1].data[0],
                               rtol=1e-12)
    assert rcell(Tensor(x)).shape == (2, 4)


def test_recurrent_errors_name_expected_and_actual_shapes():
    layer = LSTM(3, 4)
    with pytest.raises(ValueError, match=r"\(batch, time, 3\).*\(2, 5, 7\)"):
        layer(Tensor(np.zeros((2, 5, 7), np.float32)))
    with pytest.raises(ValueError, match=r"\(batch, time, features\).*\(2, 5, 3, 1\)"):
        layer(Tensor(np.zeros((2, 5, 3, 1), np.float32)))
    with pytest.raises(ValueError, match=r"h_0 of shape \(1, 2, 4\).*\(2, 4\)"):
        layer(Tensor(np.zeros((2, 5, 3))), (Tensor(np.zeros((2, 4))), Tensor(np.zeros((2, 4)))))
    with pytest.raises(TypeError, match=r"pair \(h_0, c_0\)"):
        layer(Tensor(np.zeros((2, 5, 3))), Tensor(np.zeros((1, 2, 4))))
    with pytest.raises(ValueError, match=r"h0 of shape \(1, 2, 4\).*\(1, 3, 4\)"):
        RNN(3, 4)(Tensor(np.zeros((2, 5, 3))), Tensor(np.zeros((1, 3, 4))))
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"\(batch, 3\).*\(2, 5\)"):
        LSTMCell(3, 4)(Tensor(np.zeros((2, 5))))
    with pytest.raises(ValueError, match="empty"):
        layer(Tensor(np.zeros((2, 0, 3))))


def test_function_returning_a_one_tuple_passes_its_gradient():
    """A Function whose forward returns a 1-tuple (the step split of a one-step sequence)
    must route its gradient like a single output; it was once silently dropped."""

    class Twice(ag.Function):
        @staticmethod
        def forward(ctx, x):
            return (x * 2,)

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = Tensor(np.ones(3), requires_grad=True)
    (y,) = Twice.apply(x)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0, 2.0])
    layer = LSTM(2, 3, dtype=np.float64, rng=0)
    out, _ = layer(Tensor(np.ones((1, 1, 2)), requires_grad=True))
    out.sum().backward()
    assert all(p.grad is not None and np.abs(p.grad.data).sum() > 0
               for p in (layer.weight_ih, layer.bias_ih))


# -- embedding -------------------------------------------------------------------------------
def test_embedding_lookup_and_gradient_accumulate_over_repeats():
    emb = Embedding(6, 3, dtype=np.float64, rng=0)
    idx = np.array([[0, 2, 2], [5, 0, 2]])
    y = emb(idx)
    assert y.shape == (2, 3, 3)
    for i in range(2):
        for j in range(3):
            np.testing.assert_array_equal(y.data[i, j], emb.weight.data[idx[i, j]])
    g = np.random.default_rng(1).standard_normal(y.shape)
    y.backward(Tensor(g))
    want = np.zeros((6, 3))
    for i in range(2):
        for j in range(3):
            want[idx[i, j]] += g[i, j]
    np.testing.assert_allclose(emb.weight.grad.data, want, rtol=1e-12)
    w = emb.weight.data
    check_first_order(lambda w: embedding(idx, w) ** 2, w)


def test_embedding_init_and_errors():
    emb = Embedding(1000, 16, rng=0)
    assert emb.weight.shape == (1000, 16) and emb.weight.dtype == np.float32
    assert abs(emb.weight.data.mean()) < 0.05 and abs(emb.weight.data.std() - 1) < 0.05
    assert repr(emb).startswith("Embedding(1000, 16)")
    with pytest.raises(TypeError, match="integers"):
        emb(np.array([1.0, 2.0]))
    with pytest.raises(IndexError, match=r"index 1000 is out of range.*0\.\.999"):
        emb(np.array([3, 1000]))
    with pytest.raises(IndexError, match="index -1"):
        emb(Tensor(np.array([-1])))
