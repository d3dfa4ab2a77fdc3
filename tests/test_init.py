"""nn.init: PyTorch's gains and fans, the distributions' bounds and moments, rng handling."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nn
from nn import init


def _t(*shape, dtype=np.float32):
    return nn.Parameter(np.zeros(shape, dtype=dtype))


def test_gains_follow_pytorch_table():
    assert init.calculate_gain("linear") == 1.0
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("conv2d") == 1.0
    assert init.calculate_gain("tanh") == 5.0 / 3
    assert init.calculate_gain("relu") == math.sqrt(2.0)
    assert init.calculate_gain("leaky_relu") == math.sqrt(2.0 / (1 + 0.01**2))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == math.sqrt(2.0 / 6)
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


def test_fans():
    assert init.calculate_fan_in_and_fan_out(_t(5, 3)) == (3, 5)
    assert init.calculate_fan_in_and_fan_out(_t(8, 4, 3, 2)) == (4 * 6, 8 * 6)
    with pytest.raises(ValueError, match=r"at least 2 dimensions, got shape \(7,\)"):
        init.xavier_uniform_(_t(7))


def test_fill_schemes_keep_dtype_and_return_the_tensor():
    for dtype in (np.float32, np.float64):
        t = _t(3, 4, dtype=dtype)
        assert init.ones_(t) is t and t.dtype == dtype and (t.data == 1).all()
        assert init.zeros_(t) is t and not t.data.any()
        init.constant_(t, 2.5)
        assert (t.data == 2.5).all() and t.dtype == dtype
        for fn in (init.uniform_, init.normal_, init.xavier_uniform_, init.xavier_normal_,
                   init.kaiming_uniform_, init.kaiming_normal_):
            assert fn(t, rng=0) is t and t.dtype == dtype and t.shape == (3, 4)


def test_init_assigns_a_new_array_so_recorded_graphs_stay_safe():
    w = _t(2, 2)
    old = w.data
    y = (w * w).sum()
    init.normal_(w, rng=0)
    assert w.data is not old and not old.any()  # the saved array was not written into
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_uniform_and_normal_moments():
    t = _t(400, 500, dtype=np.float64)
    init.uniform_(t, -2.0, 3.0, rng=1)
    assert t.data.min() >= -2.0 and t.data.max() < 3.0
    assert abs(t.data.mean() - 0.5) < 0.02 and abs(t.data.var() - 25 / 12) < 0.03
    init.normal_(t, 1.0, 0.5, rng=2)
    assert abs(t.data.mean() - 1.0) < 0.005 and abs(t.data.std() - 0.5) < 0.005


@pytest.mark.parametrize("shape", [(300, 500), (64, 16, 5, 5)])
def test_xavier_and_kaiming_bounds_and_spread(shape):
    t = _t(*shape, dtype=np.float64)
    fan_in, fan_out = init.calculate_fan_in_and_fan_out(t)
    gain = 1.7
    init.xavier_uniform_(t, gain=gain, rng=3)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    assert np.abs(t.data).max() <= a and np.abs(t.data).max() > 0.99 * a
    np.testing.assert_allclose(t.data.std(), a / math.sqrt(3), rtol=0.02)
    init.xavier_normal_(t, gain=gain, rng=4)
    np.testing.assert_allclose(t.data.std(), gain * math.sqrt(2.0 / (fan_in + fan_out)),
                               rtol=0.02)
    init.kaiming_uniform_(t, a=0.0, nonlinearity="relu", rng=5)
    bound = math.sqrt(2.0) * math.sqrt(3.0 / fan_in)
    assert np.abs(t.data).max() <= bound and np.abs(t.data).max() > 0.99 * bound
    init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu", rng=6)
    np.testing.assert_allclose(t.data.std(), math.sqrt(2.0 / fan_out), rtol=0.02)
    init.kaiming_normal_(t, a=0.2, rng=7)  # leaky_relu with slope 0.2
    np.testing.assert_allclose(t.data.std(), math.sqrt(2.0 / 1.04) / math.sqrt(fan_in),
                               rtol=0.02)
    with pytest.raises(ValueError, match="mode must be"):
        init.kaiming_normal_(t, mode="fan")


def test_rng_handling_is_reproducible():
    a, b = _t(4, 5), _t(4, 5)
    init.xavier_uniform_(a, rng=42)
    init.xavier_uniform_(b, rng=np.random.default_rng(42))
    np.testing.assert_array_equal(a.data, b.data)
    init.manual_seed(7)
    init.normal_(a)
    init.manual_seed(7)
    init.normal_(b)
    np.testing.assert_array_equal(a.data, b.data)
    with pytest.raises(TypeError, match="rng must be a numpy Generator"):
        init.normal_(a, rng="seed")


def test_linear_default_init_matches_pytorch_formula():
    lin = nn.Linear(50, 400, rng=0)
    bound = 1 / math.sqrt(50)  # kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(in), 1/sqrt(in))
    w, b = lin.weight.data, lin.bias.data
    assert w.dtype == np.float32 and w.shape == (400, 50) and b.shape == (400,)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert np.abs(b).max() <= bound
    np.testing.assert_allclose(w.std(), bound / math.sqrt(3), rtol=0.03)
    np.testing.assert_array_equal(nn.Linear(50, 400, rng=0).weight.data, w)
    assert not np.array_equal(nn.Linear(50, 400, rng=1).weight.data, w)
