"""nn.data: TensorDataset and DataLoader (batching, seeded shuffling, the last batch)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd import Tensor
from nn.data import DataLoader, TensorDataset


def rows(n):
    X = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return X, y


def test_tensor_dataset_indexes_rows_of_every_field():
    X, y = rows(5)
    ds = TensorDataset(X, Tensor(y))
    assert len(ds) == 5
    xi, yi = ds[2]
    assert isinstance(xi, Tensor) and isinstance(yi, Tensor)
    assert xi.tolist() == [6.0, 7.0, 8.0] and yi.item() == 2
    xb, yb = ds[np.array([4, 0])]
    assert xb.shape == (2, 3) and yb.tolist() == [4, 0]
    assert "5 rows" in repr(ds)


def test_tensor_dataset_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match=r"same first dimension.*\(4, 3\), \(3,\)"):
        TensorDataset(np.zeros((4, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(np.float32(1.0))


def test_loader_keeps_order_and_the_last_partial_batch():
    X, y = rows(10)
    loader = DataLoader(TensorDataset(X, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 == len(batches)
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert all(isinstance(t, Tensor) and not t.requires_grad for b in batches for t in b)
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64
    np.testing.assert_array_equal(batches[2][0].data, X[8:])


def test_drop_last_drops_the_partial_batch():
    loader = DataLoader(TensorDataset(*rows(10)), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert [b[1].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_default_batch_size_is_one():
    loader = DataLoader(TensorDataset(*rows(3)))
    assert [b[1].tolist() for b in loader] == [[0], [1], [2]]


def test_shuffling_is_seeded_and_differs_between_epochs():
    X, y = rows(50)
    a = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True, rng=3)
    b = DataLoader(TensorDataset(X, y), batch_size=8, shuffle=True, rng=np.random.default_rng(3))
    epoch1 = np.concatenate([yb.data for _, yb in a])
    epoch2 = np.concatenate([yb.data for _, yb in a])
    assert sorted(epoch1.tolist()) == list(range(50))
    assert not np.array_equal(epoch1, np.arange(50))
    assert not np.array_equal(epoch1, epoch2)
    assert np.array_equal(epoch1, np.concatenate([yb.data for _, yb in b]))
    assert np.array_equal(epoch2, np.concatenate([yb.data for _, yb in b]))
    # rows stay paired with their labels
    for xb, yb in a:
        np.testing.assert_array_equal(xb.data, X[yb.data])


@settings(deadline=None, max_examples=60)
@given(st.integers(1, 40), st.integers(1, 12), st.booleans(), st.booleans(),
       st.integers(0, 1000))
def test_batches_cover_each_row_once(n, batch_size, shuffle, drop_last, seed):
    X, y = rows(n)
    loader = DataLoader(TensorDataset(X, y), batch_size, shuffle=shuffle, rng=seed,
                        drop_last=drop_last)
    batches = [yb.data for _, yb in loader]
    assert len(batches) == len(loader)
    full, rest = divmod(n, batch_size)
    expected = full + (1 if rest and not drop_last else 0)
    assert len(loader) == expected
    assert all(len(b) == batch_size for b in batches[:full])
    seen = np.concatenate(batches) if batches else np.array([], dtype=np.int64)
    assert len(seen) == len(set(seen.tolist()))
    assert len(seen) == (full * batch_size if drop_last else n)


class Squares:
    """A plain Python dataset: sample i is (array [i, i], i squared)."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return np.array([i, i], dtype=np.float64), i * i


def test_any_indexable_dataset_is_collated_field_by_field():
    batches = list(DataLoader(Squares(), batch_size=3))
    assert len(batches) == 3
    xb, yb = batches[0]
    assert xb.shape == (3, 2) and xb.dtype == np.float64
    assert yb.tolist() == [0, 1, 4]
    shuffled = DataLoader(Squares(), batch_size=7, shuffle=True, rng=0)
    (xb, yb), = list(shuffled)
    np.testing.assert_array_equal(xb.data[:, 0] ** 2, yb.data)


def test_single_field_samples_make_one_tuples():
    ((batch,),) = list(DataLoader([np.ones(2), np.zeros(2)], batch_size=2))
    assert batch.tolist() == [[1.0, 1.0], [0.0, 0.0]]
    ((only,),) = list(DataLoader(TensorDataset(np.arange(3)), batch_size=3))
    assert only.tolist() == [0, 1, 2]


def test_loader_argument_errors():
    ds = TensorDataset(*rows(4))
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader(ds, batch_size=bad)
    with pytest.raises(TypeError, match="rng"):
        DataLoader(ds, shuffle=True, rng="seed")
    with pytest.raises(TypeError, match="len"):
        DataLoader(42)


def test_transform_is_applied_to_every_batch():
    X, y = rows(7)

    def negate(batch):
        xb, yb = batch
        return -xb, yb

    loader = DataLoader(TensorDataset(X, y), batch_size=3, transform=negate)
    got = np.concatenate([xb.data for xb, _ in loader])
    np.testing.assert_array_equal(got, -X)
    with pytest.raises(TypeError, match="transform"):
        DataLoader(TensorDataset(X, y), transform=3)
