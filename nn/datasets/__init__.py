"""Small datasets for learning and testing: generated toys and real handwritten digits.

Every loader returns ``(X, y)`` numpy arrays: ``X`` float32 features, ``y`` int64 labels.
The real digits (``digits``, ``mnist``) ship inside the package, so they work offline on a
fresh install; ``load_mnist`` reads the full MNIST from the standard IDX files when you
have them. See ``DATA.md`` beside this file for sources and licences.
"""

from __future__ import annotations

import gzip
import os
import zlib
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "xor", "parity", "spiral", "moons", "digits", "mnist", "load_mnist", "read_idx",
    "train_test_split", "random_shift", "random_affine",
]

RngLike = np.random.Generator | int | None


def _rng(rng: RngLike) -> np.random.Generator:
    """A numpy Generator from a seed, an existing Generator, or None (fresh entropy)."""
    if rng is None or isinstance(rng, (int, np.integer, np.random.Generator)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _nonnegative(name: str, value: Any) -> float:
    value = float(value)
    if not value >= 0.0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return value


# -- generated datasets --------------------------------------------------------------------
def xor() -> tuple[np.ndarray, np.ndarray]:
    """The XOR truth table: X is ``[[0,0],[0,1],[1,0],[1,1]]``, y is ``[0, 1, 1, 0]``."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return X, y


def parity(n_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """All ``2**n_bits`` bit strings (most significant bit first) and their parity.

    Row ``i`` holds the binary digits of ``i``; ``y`` is 1 when the row has an odd number
    of ones. ``parity(2)`` is XOR.
    """
    n_bits = _positive_int("parity: n_bits", n_bits)
    if n_bits > 24:
        raise ValueError(f"parity: n_bits={n_bits} would make {2 ** n_bits} rows; use at most 24")
    codes = np.arange(2 ** n_bits, dtype=np.int64)
    shifts = np.arange(n_bits - 1, -1, -1, dtype=np.int64)
    bits = (codes[:, None] >> shifts) & 1
    return bits.astype(np.float32), (bits.sum(axis=1) % 2).astype(np.int64)


def spiral(
    n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2, rng: RngLike = None
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms in 2-d, one arm per class (the CS231n toy problem).

    Arm ``k`` has ``n_per_class`` points at radius ``r`` in [0, 1] and angle
    ``4 r + 2 pi k / n_classes`` plus Gaussian angle noise of standard deviation ``noise``;
    not linearly separable, so it needs a hidden layer.
    """
    n = _positive_int("spiral: n_per_class", n_per_class)
    k = _positive_int("spiral: n_classes", n_classes)
    noise = _nonnegative("spiral: noise", noise)
    g = _rng(rng)
    r = np.tile(np.linspace(0.0, 1.0, n), k)
    label = np.repeat(np.arange(k, dtype=np.int64), n)
    theta = 4.0 * r + 2.0 * np.pi * label / k + g.normal(0.0, noise, size=n * k)
    X = np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1)
    return X.astype(np.float32), label


def moons(n: int = 200, noise: float = 0.1, rng: RngLike = None) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (class 0 on top, class 1 below, shifted), plus
    Gaussian noise of standard deviation ``noise`` on each coordinate.

    ``n`` points in total: ``ceil(n / 2)`` in class 0 and ``floor(n / 2)`` in class 1,
    the same layout as scikit-learn's ``make_moons`` (without its shuffling).
    """
    n = _positive_int("moons: n", n)
    noise = _nonnegative("moons: noise", noise)
    g = _rng(rng)
    n_top, n_bottom = n - n // 2, n // 2
    t_top = np.linspace(0.0, np.pi, n_top)
    t_bottom = np.linspace(0.0, np.pi, n_bottom)
    top = np.stack([np.cos(t_top), np.sin(t_top)], axis=1)
    bottom = np.stack([1.0 - np.cos(t_bottom), 0.5 - np.sin(t_bottom)], axis=1)
    X = np.concatenate([top, bottom]) + g.normal(0.0, noise, size=(n, 2))
    y = np.concatenate([np.zeros(n_top, np.int64), np.ones(n_bottom, np.int64)])
    return X.astype(np.float32), y


# -- real digits -------------------------------------------------------------------------------
def _images_and_labels(
    images: np.ndarray, labels: np.ndarray, peak: float, flatten: bool, scale: bool
) -> tuple[np.ndarray, np.ndarray]:
    X: np.ndarray = images.reshape(len(images), -1) if flatten else images
    X = (X.astype(np.float32) / np.float32(peak)) if scale else X.copy()
    return X, labels.astype(np.int64)


def _embedded(name: str) -> tuple[np.ndarray, np.ndarray]:
    path = resources.files(__name__).joinpath(name)
    with path.open("rb") as f, np.load(f, allow_pickle=False) as npz:
        return npz["images"], npz["labels"]


def digits(flatten: bool = True, scale: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """1,797 real 8x8 handwritten digits (UCI optical digits), shipped in the package.

    ``X`` is float32 in [0, 1] of shape ``(1797, 64)``; ``flatten=False`` keeps
    ``(1797, 8, 8)``; ``scale=False`` keeps the raw uint8 counts 0..16. ``y`` is int64 0..9.
    """
    images, labels = _embedded("digits_8x8.npz")
    return _images_and_labels(images, labels, 16.0, flatten, scale)


def mnist(flatten: bool = True, scale: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """5,000 real MNIST digits (500 per class, 28x28), shipped in the package.

    ``X`` is float32 in [0, 1] of shape ``(5000, 784)``; ``flatten=False`` keeps
    ``(5000, 28, 28)``; ``scale=False`` keeps the raw uint8 pixels. ``y`` is int64 0..9.
    """
    images, labels = _embedded("mnist_5k.npz")
    return _images_and_labels(images, labels, 255.0, flatten, scale)


# -- IDX files (the format of the original MNIST distribution) ----------------------------
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    raw = path.read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as exc:
        raise ValueError(f"{path}: the gzip stream is truncated or corrupt ({exc})") from exc


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one IDX file (plain or gzip-compressed) into a native-endian numpy array.

    Checks the magic number (two zero bytes, a type code, the number of dimensions) and
    that the file holds exactly as many bytes as its header announces.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise ValueError(f"{path}: truncated IDX file ({len(raw)} bytes, the header needs 4)")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path}: not an IDX file (magic number 0x{raw[:4].hex()}; expected 0x0000TTNN "
            f"with type code TT in {{08, 09, 0b, 0c, 0d, 0e}})"
        )
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"{path}: truncated IDX file ({len(raw)} bytes, the header of a {ndim}-d array "
            f"needs {header})"
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        kind = "truncated" if len(raw) < expected else "oversized"
        raise ValueError(
            f"{path}: {kind} IDX file: the header announces shape {shape} of {dtype.name} "
            f"({expected} bytes in all) but the file holds {len(raw)} bytes"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _find_idx(directory: Path, kind: str, what: str, dims: int) -> Path:
    stems = [f"{kind}-{what}-idx{dims}-ubyte", f"{kind}-{what}.idx{dims}-ubyte"]
    names = [stem + ext for stem in stems for ext in ("", ".gz")]
    for name in names:
        if (directory / name).is_file():
            return directory / name
    raise FileNotFoundError(
        f"load_mnist: no {what} file for kind={kind!r} in {directory} "
        f"(looked for {', '.join(names)})"
    )


def load_mnist(
    directory: str | os.PathLike[str],
    kind: str = "train",
    flatten: bool = True,
    scale: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Read MNIST (or Fashion-MNIST) from the standard IDX files in ``directory``.

    ``kind`` is ``"train"`` (``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte``)
    or ``"t10k"`` (the test files); each may be gzip-compressed (``.gz``). Same
    conventions as :func:`mnist`: float32 pixels in [0, 1], flattened, int64 labels.
    """
    if kind not in ("train", "t10k"):
        raise ValueError(f"load_mnist: kind must be 'train' or 't10k', got {kind!r}")
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"load_mnist: directory not found: {directory}")
    images_path = _find_idx(directory, kind, "images", 3)
    labels_path = _find_idx(directory, kind, "labels", 1)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{images_path}: expected a 3-d uint8 image array, got shape {images.shape} "
            f"of {images.dtype}"
        )
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise ValueError(
            f"{labels_path}: expected a 1-d uint8 label array, got shape {labels.shape} "
            f"of {labels.dtype}"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"load_mnist: {images_path.name} holds {len(images)} images but "
            f"{labels_path.name} holds {len(labels)} labels"
        )
    return _images_and_labels(images, labels, 255.0, flatten, scale)


# -- splitting ------------------------------------------------------------------------------
def _test_count(test_size: float | int, n: int) -> int:
    if isinstance(test_size, bool):
        raise TypeError("train_test_split: test_size must be a fraction or a count, got a bool")
    if isinstance(test_size, (int, np.integer)):
        n_test = int(test_size)
    else:
        frac = float(test_size)
        if not 0.0 < frac < 1.0:
            raise ValueError(
                f"train_test_split: a fractional test_size must be in (0, 1), got {frac}"
            )
        n_test = int(np.ceil(frac * n))
    if not 0 < n_test < n:
        raise ValueError(
            f"train_test_split: test_size={test_size!r} leaves {n_test} test rows of {n}; "
            f"both parts must be non-empty"
        )
    return n_test


def _stratified_counts(counts: np.ndarray, n_test: int, g: np.random.Generator) -> np.ndarray:
    """Per-class test counts summing to ``n_test``, proportional to ``counts`` (largest
    remainders get the leftover rows; ties broken at random)."""
    ideal = counts * (n_test / counts.sum())
    take = np.floor(ideal).astype(np.int64)
    remainder = ideal - take
    order = np.lexsort((g.random(len(counts)), -remainder))
    take[order[: n_test - take.sum()]] += 1
    return take


def train_test_split(
    X: np.ndarray,
    y: np.ndarray,
    test_size: float | int = 0.2,
    rng: RngLike = None,
    stratify: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle and split into ``(X_train, X_test, y_train, y_test)`` (scikit-learn's order).

    ``test_size`` is a fraction of the rows (rounded up) or a row count. With ``stratify``
    each label keeps its share in the test part (per-class counts rounded by largest
    remainder, so ``test_size`` is met exactly). ``rng`` (seed or Generator) makes it
    reproducible.
    """
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise ValueError(
            f"train_test_split: X and y need the same number of rows, got shapes "
            f"{X.shape} and {y.shape}"
        )
    n = len(y)
    n_test = _test_count(test_size, n)
    g = _rng(rng)
    if stratify:
        classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
        inverse = inverse.reshape(-1)
        take = _stratified_counts(counts, n_test, g)
        test_parts, train_parts = [], []
        for c in range(len(classes)):
            members = g.permutation(np.flatnonzero(inverse == c))
            test_parts.append(members[: take[c]])
            train_parts.append(members[take[c]:])
        test_idx = g.permutation(np.concatenate(test_parts))
        train_idx = g.permutation(np.concatenate(train_parts))
    else:
        perm = g.permutation(n)
        test_idx, train_idx = perm[:n_test], perm[n_test:]
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


# -- augmentation ---------------------------------------------------------------------------
def _image_size(images: np.ndarray, image_shape: tuple[int, int] | None,
                what: str) -> tuple[int, int]:
    """(h, w) of a batch of ``(n, h, w)`` images or ``(n, h * w)`` rows of known shape."""
    if image_shape is None:
        if images.ndim != 3:
            raise ValueError(
                f"{what}: expected (n, h, w) images or image_shape=(h, w), got shape "
                f"{images.shape}"
            )
        return images.shape[1], images.shape[2]
    h, w = image_shape
    if images.ndim != 2 or images.shape[1] != h * w:
        raise ValueError(
            f"{what}: rows of shape {images.shape} do not hold images of shape {(h, w)}"
        )
    return h, w


def random_shift(
    images: np.ndarray,
    max_shift: int,
    rng: RngLike = None,
    image_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Move each image by its own random offset of up to ``max_shift`` pixels along each
    axis, filling the uncovered border with zeros (augmentation for digit images).

    ``images`` is ``(n, h, w)``, or ``(n, h * w)`` rows with ``image_shape=(h, w)``; the
    result has the input's shape and dtype. Offsets are uniform in
    ``[-max_shift, max_shift]``, drawn from ``rng``.
    """
    images = np.asarray(images)
    h, w = _image_size(images, image_shape, "random_shift")
    if isinstance(max_shift, bool) or not isinstance(max_shift, (int, np.integer)) or max_shift < 0:
        raise ValueError(f"random_shift: max_shift must be an integer >= 0, got {max_shift!r}")
    if max_shift == 0:
        return images.copy()
    s, n, g = int(max_shift), len(images), _rng(rng)
    padded = np.pad(images.reshape(n, h, w), ((0, 0), (s, s), (s, s)))
    dy = g.integers(0, 2 * s + 1, size=n)
    dx = g.integers(0, 2 * s + 1, size=n)
    rows = (dy[:, None] + np.arange(h))[:, :, None]
    cols = (dx[:, None] + np.arange(w))[:, None, :]
    shifted = padded[np.arange(n)[:, None, None], rows, cols]
    return shifted.reshape(images.shape)


def random_affine(
    images: np.ndarray,
    rng: RngLike = None,
    image_shape: tuple[int, int] | None = None,
    max_rotation: float = 10.0,
    max_scale: float = 0.1,
    max_shift: float = 2.0,
) -> np.ndarray:
    """Rotate, scale and move each image by its own random amounts (bilinear resampling,
    zeros outside): augmentation that keeps a digit a digit.

    Per image: an angle uniform in ``[-max_rotation, max_rotation]`` degrees, a zoom
    uniform in ``[1 - max_scale, 1 + max_scale]`` about the centre, and an offset uniform
    in ``[-max_shift, max_shift]`` pixels along each axis. ``images`` is ``(n, h, w)``, or
    ``(n, h * w)`` rows with ``image_shape=(h, w)``; the result is float32 (float64 stays
    float64) of the input's shape.
    """
    images = np.asarray(images)
    h, w = _image_size(images, image_shape, "random_affine")
    for name, value in (("max_rotation", max_rotation), ("max_scale", max_scale),
                        ("max_shift", max_shift)):
        _nonnegative(f"random_affine: {name}", value)
    if max_scale >= 1:
        raise ValueError(f"random_affine: max_scale must be below 1, got {max_scale}")
    dtype = images.dtype if images.dtype in (np.float32, np.float64) else np.dtype(np.float32)
    n, g = len(images), _rng(rng)
    flat = images.reshape(n, h * w).astype(dtype, copy=False)
    angle = np.deg2rad(g.uniform(-max_rotation, max_rotation, n))
    zoom = g.uniform(1.0 - max_scale, 1.0 + max_scale, n)
    shift = g.uniform(-max_shift, max_shift, (n, 2))
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    yy, xx = np.meshgrid(np.arange(h) - cy, np.arange(w) - cx, indexing="ij")
    # output pixel p comes from source point R(-angle) (p - shift) / zoom
    py = yy.reshape(1, -1) - shift[:, :1]
    px = xx.reshape(1, -1) - shift[:, 1:]
    cos, sin = (np.cos(angle) / zoom)[:, None], (np.sin(angle) / zoom)[:, None]
    sy = cos * py - sin * px + cy
    sx = sin * py + cos * px + cx
    y0, x0 = np.floor(sy).astype(np.int64), np.floor(sx).astype(np.int64)
    fy, fx = (sy - y0).astype(dtype), (sx - x0).astype(dtype)
    rows = np.arange(n)[:, None]
    out = np.zeros((n, h * w), dtype=dtype)
    for dy, dx, weight in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx),
                           (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        yi, xi = y0 + dy, x0 + dx
        inside = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
        idx = np.where(inside, yi * w + xi, 0)
        out += np.where(inside, flat[rows, idx], 0) * weight
    return out.reshape(images.shape)
