"""Datasets and loaders: feed a model mini-batches of Tensors.

``TensorDataset`` wraps arrays that share their first dimension; ``DataLoader`` cuts any
dataset (anything with ``__len__`` and ``__getitem__``) into batches, optionally shuffled
by a seedable numpy Generator, and yields tuples of Tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np

from autograd import Tensor

__all__ = ["Dataset", "TensorDataset", "DataLoader"]


class Dataset(Protocol):
    """What ``DataLoader`` needs: a length and integer indexing."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Any: ...


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


class TensorDataset:
    """Rows of one or more arrays or Tensors that share their first dimension.

    ``ds[i]`` is a tuple with row ``i`` of each; ``i`` may also be a slice or an integer
    array, which is how ``DataLoader`` fetches a whole batch in one indexing.
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one array or Tensor")
        ts = tuple(_as_tensor(t) for t in tensors)
        for t in ts:
            if t.ndim == 0:
                raise ValueError("TensorDataset: a 0-d value has no rows; give arrays of rows")
        lengths = {t.shape[0] for t in ts}
        if len(lengths) != 1:
            shapes = ", ".join(str(t.shape) for t in ts)
            raise ValueError(
                f"TensorDataset: all inputs need the same first dimension, got shapes {shapes}"
            )
        self.tensors = ts

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(Tensor(t.data[index]) for t in self.tensors)

    def __repr__(self) -> str:
        shapes = ", ".join(str(t.shape) for t in self.tensors)
        return f"TensorDataset({len(self)} rows: {shapes})"


def _collate(items: list[Any]) -> tuple[Tensor, ...]:
    """Stack a list of samples (tuples of arrays, Tensors or numbers) field by field."""
    first = items[0]
    if not isinstance(first, (tuple, list)):
        return (Tensor(np.stack([np.asarray(it) for it in items])),)
    width = len(first)
    for it in items:
        if not isinstance(it, (tuple, list)) or len(it) != width:
            raise ValueError(
                f"DataLoader: every sample must be a tuple of {width} fields; got {it!r:.80}"
            )
    return tuple(
        Tensor(np.stack([np.asarray(it[k]) for it in items])) for k in range(width)
    )


class DataLoader:
    """Iterate over a dataset in mini-batches: ``for xb, yb in DataLoader(ds, 32): ...``.

    - ``batch_size``: rows per batch; the last, smaller batch is kept unless ``drop_last``.
    - ``shuffle``: a fresh permutation every pass, drawn from ``rng`` (a numpy Generator or
      an int seed; None means fresh entropy), so a seeded loader repeats the same sequence
      of epochs from run to run.
    - Each batch is a tuple of Tensors (no gradient), one per field of the dataset.
    - ``transform``: a function applied to each batch (the tuple) before it is yielded,
      returning the new tuple; the place for random augmentation of whole batches.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        rng: np.random.Generator | int | None = None,
        drop_last: bool = False,
        transform: Callable[[tuple[Tensor, ...]], tuple[Tensor, ...]] | None = None,
    ) -> None:
        if (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                or batch_size < 1):
            raise ValueError(
                f"DataLoader: batch_size must be a positive integer, got {batch_size!r}"
            )
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                f"DataLoader: the dataset must support len() and indexing, got "
                f"{type(dataset).__name__}"
            )
        if rng is not None and not isinstance(rng, (int, np.integer, np.random.Generator)):
            raise TypeError(
                f"DataLoader: rng must be a numpy Generator, an int seed or None, got "
                f"{type(rng).__name__}"
            )
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable, got {transform!r}")
        self.rng = np.random.default_rng(rng)
        self.transform = transform

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, ...]]:
        n = len(self.dataset)
        order = self.rng.permutation(n) if self.shuffle else None
        stop = n - n % self.batch_size if self.drop_last else n
        fast = isinstance(self.dataset, TensorDataset)
        for start in range(0, stop, self.batch_size):
            end = min(start + self.batch_size, n)
            index: Any = order[start:end] if order is not None else slice(start, end)
            if fast:
                batch = self.dataset[index]
            else:
                rows = range(start, end) if order is None else index.tolist()
                batch = _collate([self.dataset[i] for i in rows])
            yield batch if self.transform is None else self.transform(batch)

    def __repr__(self) -> str:
        return (
            f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last})"
        )
