"""Tensor construction, dtypes, factories, conversions and repr."""

from __future__ import annotations

import numpy as np
import pytest

import autograd as ag


def test_python_data_takes_default_float32():
    assert ag.Tensor(1.5).dtype == np.float32
    assert ag.Tensor([1.0, 2.0]).dtype == np.float32
    assert ag.tensor([[1.0], [2.0]]).shape == (2, 1)


def test_numpy_dtypes_are_kept_and_ints_stay_ints():
    assert ag.Tensor(np.zeros(2, np.float64)).dtype == np.float64
    assert ag.Tensor(np.zeros(2, np.float16)).dtype == np.float16
    assert ag.Tensor([1, 2]).dtype == np.int64
    assert ag.Tensor([True]).dtype == np.bool_
    assert ag.Tensor(np.float64(2.0)).dtype == np.float64


def test_dtype_argument_and_default_dtype_switch():
    assert ag.Tensor([1, 2], dtype=np.float64).dtype == np.float64
    old = ag.get_default_dtype()
    try:
        ag.set_default_dtype(np.float64)
        assert ag.Tensor([1.0]).dtype == np.float64
        assert ag.zeros(2).dtype == np.float64
        with pytest.raises(TypeError):
            ag.set_default_dtype(np.int32)
    finally:
        ag.set_default_dtype(old)
    assert ag.Tensor([1.0]).dtype == np.float32


def test_object_data_is_refused():
    with pytest.raises(TypeError, match="object"):
        ag.Tensor(np.array([object()]))


def test_factories():
    assert ag.zeros(2, 3).shape == (2, 3) and ag.zeros((2, 3)).data.sum() == 0
    assert ag.ones(4).data.sum() == 4
    np.testing.assert_array_equal(ag.full((2,), 7.0).data, [7, 7])
    x = ag.Tensor(np.ones((2, 2), np.float64))
    assert ag.zeros_like(x).dtype == np.float64 and ag.ones_like(x).shape == (2, 2)
    assert ag.arange(5).dtype == np.int64
    assert ag.arange(0.0, 1.0, 0.25).dtype == np.float32
    np.testing.assert_array_equal(ag.eye(3).data, np.eye(3))
    r1 = ag.rand(3, rng=np.random.default_rng(0))
    r2 = ag.rand(3, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(r1.data, r2.data)
    assert ag.randn(2, 5, rng=np.random.default_rng(1)).shape == (2, 5)
    assert ag.zeros(2, requires_grad=True).requires_grad


def test_attributes_and_conversions():
    t = ag.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True, name="w")
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and t.name == "w"
    assert t.T.shape == (3, 2)
    assert t.is_leaf and t.grad is None and t.grad_fn is None
    assert t.numpy() is t.data
    assert t.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert ag.Tensor([2.5]).item() == 2.5
    with pytest.raises(ValueError, match="6 elements"):
        t.item()
    np.testing.assert_array_equal(np.asarray(t), t.data)
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    assert t.astype(np.float32).dtype == np.float32
    assert float(ag.Tensor(3.0)) == 3.0 and len(t) == 2
    assert [r.shape for r in t] == [(3,), (3,)]


def test_repr_is_readable():
    t = ag.Tensor([1.0, 2.0], requires_grad=True)
    assert "requires_grad=True" in repr(t)
    assert "grad_fn=<MulBackward>" in repr(t * 2)


def test_requires_grad_only_off_on_leaves():
    x = ag.Tensor([1.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False
    x.requires_grad_(False)
    assert not x.requires_grad


def test_truth_value():
    assert bool(ag.Tensor([1.0]))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(ag.Tensor([1.0, 2.0]))
