"""nn.datasets: generated toys against their definitions, the embedded digits, IDX reading
(plain and gzip, with its failure modes) and the stratified split."""

import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nn import datasets


# -- generated ---------------------------------------------------------------------------
def test_xor_is_the_truth_table():
    X, y = datasets.xor()
    assert X.dtype == np.float32 and y.dtype == np.int64
    assert X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert y.tolist() == [int(a) ^ int(b) for a, b in X]


@pytest.mark.parametrize("n_bits", [1, 2, 3, 5, 8])
def test_parity_lists_every_bit_string(n_bits):
    X, y = datasets.parity(n_bits)
    assert X.shape == (2 ** n_bits, n_bits) and y.shape == (2 ** n_bits,)
    for i in range(2 ** n_bits):
        bits = format(i, f"0{n_bits}b")
        assert X[i].tolist() == [float(b) for b in bits]
        assert y[i] == bits.count("1") % 2


def test_parity_two_bits_is_xor():
    assert all(np.array_equal(a, b) for a, b in zip(datasets.parity(2), datasets.xor()))


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_parity_rejects_bad_bit_counts(bad):
    with pytest.raises(ValueError, match="n_bits"):
        datasets.parity(bad)


def test_spiral_without_noise_follows_its_formula():
    n, k = 50, 4
    X, y = datasets.spiral(n, k, noise=0.0, rng=0)
    assert X.shape == (n * k, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [n] * k
    r = np.tile(np.linspace(0, 1, n), k)
    np.testing.assert_allclose(np.hypot(X[:, 0], X[:, 1]), r, atol=1e-6)
    theta = 4 * r + 2 * np.pi * y / k
    np.testing.assert_allclose(X[:, 0], r * np.sin(theta), atol=1e-6)
    np.testing.assert_allclose(X[:, 1], r * np.cos(theta), atol=1e-6)


def test_spiral_and_moons_are_reproducible_by_seed():
    a, b = datasets.spiral(30, 3, 0.3, rng=7), datasets.spiral(30, 3, 0.3, rng=7)
    assert np.array_equal(a[0], b[0])
    c = datasets.spiral(30, 3, 0.3, rng=8)
    assert not np.array_equal(a[0], c[0])
    m1, m2 = datasets.moons(40, 0.2, rng=np.random.default_rng(3)), datasets.moons(40, 0.2, rng=3)
    assert np.array_equal(m1[0], m2[0])


def test_moons_without_noise_lie_on_two_half_circles():
    X, y = datasets.moons(101, noise=0.0)
    assert X.shape == (101, 2) and np.bincount(y).tolist() == [51, 50]
    top, bottom = X[y == 0].astype(np.float64), X[y == 1].astype(np.float64)
    np.testing.assert_allclose(np.hypot(*top.T), 1.0, atol=1e-6)
    assert (top[:, 1] >= -1e-6).all()
    np.testing.assert_allclose(np.hypot(bottom[:, 0] - 1.0, bottom[:, 1] - 0.5), 1.0, atol=1e-6)
    assert (bottom[:, 1] <= 0.5 + 1e-6).all()


def test_generators_reject_bad_arguments():
    with pytest.raises(ValueError, match="noise"):
        datasets.moons(10, noise=-0.1)
    with pytest.raises(ValueError, match="n_classes"):
        datasets.spiral(10, 0)
    with pytest.raises(TypeError, match="rng"):
        datasets.moons(10, rng="seed")


# -- embedded digits -----------------------------------------------------------------------
def test_digits_are_real_balanced_and_scaled():
    X, y = datasets.digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    counts = np.bincount(y, minlength=10)
    assert counts.min() >= 170 and counts.sum() == 1797
    raw, y2 = datasets.digits(flatten=False, scale=False)
    assert raw.shape == (1797, 8, 8) and raw.dtype == np.uint8 and raw.max() == 16
    assert np.array_equal(y, y2)
    np.testing.assert_array_equal(X, raw.reshape(1797, 64).astype(np.float32) / 16)
    # real data: distinct images, and the classes differ on average
    assert len(np.unique(raw.reshape(1797, -1), axis=0)) > 1700
    means = np.stack([X[y == c].mean(axis=0) for c in range(10)])
    assert np.linalg.matrix_rank(means) == 10


def test_mnist_has_5000_balanced_28x28_digits():
    X, y = datasets.mnist()
    assert X.shape == (5000, 784) and X.dtype == np.float32
    assert np.bincount(y).tolist() == [500] * 10
    assert 0.0 == X.min() and X.max() == 1.0
    raw, _ = datasets.mnist(flatten=False, scale=False)
    assert raw.shape == (5000, 28, 28) and raw.dtype == np.uint8
    np.testing.assert_array_equal(X[:10], raw[:10].reshape(10, -1) / np.float32(255))
    # MNIST digits are centred: the border is almost empty, the middle is not
    assert raw[:, :2, :].mean() < 1.0 and raw[:, 10:18, 10:18].mean() > 50


def test_returned_arrays_are_private_copies():
    X, _ = datasets.digits(scale=False)
    X[:] = 0
    assert datasets.digits(scale=False)[0].max() == 16


# -- IDX files -------------------------------------------------------------------------------
def idx_bytes(arr: np.ndarray, code: int = 0x08) -> bytes:
    """An IDX file written from the format's definition (big-endian header and data)."""
    be = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}[code]
    header = bytes([0, 0, code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return header + arr.astype(be).tobytes()


def write_mnist(tmp_path, kind, images, labels, gz):
    ext = ".gz" if gz else ""
    for what, arr, dims in (("images", images, 3), ("labels", labels, 1)):
        data = idx_bytes(arr)
        path = tmp_path / f"{kind}-{what}-idx{dims}-ubyte{ext}"
        path.write_bytes(gzip.compress(data) if gz else data)


@pytest.fixture
def tiny():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(7, 4, 5), dtype=np.uint8), np.arange(7, dtype=np.uint8) % 10


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("kind", ["train", "t10k"])
def test_load_mnist_reads_plain_and_gzip_idx(tmp_path, tiny, gz, kind):
    images, labels = tiny
    write_mnist(tmp_path, kind, images, labels, gz)
    X, y = datasets.load_mnist(tmp_path, kind=kind)
    assert X.shape == (7, 20) and X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(X, images.reshape(7, 20) / np.float32(255))
    np.testing.assert_array_equal(y, labels)
    raw, _ = datasets.load_mnist(str(tmp_path), kind=kind, flatten=False, scale=False)
    np.testing.assert_array_equal(raw, images)


@pytest.mark.parametrize("code, dtype", [(0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32),
                                         (0x0D, np.float32), (0x0E, np.float64)])
def test_read_idx_handles_every_type_code(tmp_path, code, dtype):
    arr = (np.arange(24).reshape(2, 3, 4) - 11).astype(dtype) * dtype(3)
    (tmp_path / "a.idx").write_bytes(idx_bytes(arr, code))
    out = datasets.read_idx(tmp_path / "a.idx")
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


def test_load_mnist_missing_directory_and_files(tmp_path, tiny):
    with pytest.raises(FileNotFoundError, match="directory not found"):
        datasets.load_mnist(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        datasets.load_mnist(tmp_path)
    write_mnist(tmp_path, "train", *tiny, gz=False)
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="labels file"):
        datasets.load_mnist(tmp_path)
    with pytest.raises(ValueError, match="kind"):
        datasets.load_mnist(tmp_path, kind="test")


def test_truncated_idx_files_are_named(tmp_path, tiny):
    write_mnist(tmp_path, "train", *tiny, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    full = path.read_bytes()
    path.write_bytes(full[:-5])
    with pytest.raises(ValueError, match=r"truncated IDX file.*\(7, 4, 5\)") as err:
        datasets.load_mnist(tmp_path)
    assert str(path) in str(err.value)
    path.write_bytes(full[:9])
    with pytest.raises(ValueError, match="truncated IDX file .*header"):
        datasets.load_mnist(tmp_path)
    path.write_bytes(full[:3])
    with pytest.raises(ValueError, match="truncated"):
        datasets.load_mnist(tmp_path)
    path.write_bytes(full + b"\0")
    with pytest.raises(ValueError, match="oversized"):
        datasets.load_mnist(tmp_path)


def test_truncated_gzip_is_named(tmp_path, tiny):
    write_mnist(tmp_path, "train", *tiny, gz=True)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-6])
    with pytest.raises(ValueError, match="gzip stream is truncated") as err:
        datasets.load_mnist(tmp_path)
    assert str(path) in str(err.value)


def test_wrong_magic_number_is_refused(tmp_path, tiny):
    write_mnist(tmp_path, "train", *tiny, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    data = bytearray(path.read_bytes())
    data[2] = 0x42
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="not an IDX file .*0x00004203"):
        datasets.load_mnist(tmp_path)
    path.write_bytes(b"\x89PNG" + bytes(data[4:]))
    with pytest.raises(ValueError, match="not an IDX file"):
        datasets.load_mnist(tmp_path)


def test_mismatched_or_misshapen_files_are_refused(tmp_path, tiny):
    images, labels = tiny
    write_mnist(tmp_path, "train", images, labels[:5], gz=False)
    with pytest.raises(ValueError, match="7 images but .* 5 labels"):
        datasets.load_mnist(tmp_path)
    write_mnist(tmp_path, "train", images, labels, gz=False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(labels.reshape(7, 1)))
    with pytest.raises(ValueError, match="1-d uint8 label array"):
        datasets.load_mnist(tmp_path)


# -- train_test_split ------------------------------------------------------------------------
def test_split_of_the_embedded_mnist_is_exactly_stratified():
    X, y = datasets.mnist()
    Xtr, Xte, ytr, yte = datasets.train_test_split(X, y, test_size=1000, rng=0)
    assert Xtr.shape == (4000, 784) and Xte.shape == (1000, 784)
    assert np.bincount(yte).tolist() == [100] * 10
    assert np.bincount(ytr).tolist() == [400] * 10


def test_split_partitions_rows_and_is_reproducible():
    ids = np.arange(103)
    y = np.arange(103) % 3
    tr, te, ytr, yte = datasets.train_test_split(ids, y, test_size=0.25, rng=5)
    assert len(te) == 26 and len(tr) == 77
    assert sorted(np.concatenate([tr, te]).tolist()) == ids.tolist()
    assert np.array_equal(ytr, y[tr]) and np.array_equal(yte, y[te])
    again = datasets.train_test_split(ids, y, test_size=0.25, rng=5)
    assert np.array_equal(again[1], te)
    other = datasets.train_test_split(ids, y, test_size=0.25, rng=6)
    assert not np.array_equal(other[1], te)
    # the test part is shuffled, not grouped by class
    assert not np.array_equal(np.sort(yte), yte)


def test_unstratified_split_and_errors():
    ids = np.arange(10)
    tr, te, _, _ = datasets.train_test_split(ids, ids, test_size=3, rng=0, stratify=False)
    assert len(te) == 3 and set(tr) | set(te) == set(ids)
    with pytest.raises(ValueError, match="same number of rows"):
        datasets.train_test_split(ids, ids[:9])
    with pytest.raises(ValueError, match="non-empty"):
        datasets.train_test_split(ids, ids, test_size=10)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        datasets.train_test_split(ids, ids, test_size=1.5)


@settings(deadline=None, max_examples=40)
@given(st.lists(st.integers(0, 4), min_size=2, max_size=60), st.integers(0, 2 ** 31),
       st.floats(0.05, 0.95))
def test_stratified_counts_are_proportional(labels, seed, frac):
    y = np.array(labels)
    n = len(y)
    n_test = int(np.ceil(frac * n))
    if not 0 < n_test < n:
        return
    _, _, _, yte = datasets.train_test_split(np.arange(n), y, test_size=frac, rng=seed)
    assert len(yte) == n_test
    for c in np.unique(y):
        ideal = (y == c).sum() * n_test / n
        assert np.floor(ideal) <= (yte == c).sum() <= np.ceil(ideal)


# -- augmentation ------------------------------------------------------------------------------
def shifted(img, dy, dx):
    """Image moved down by dy and right by dx, zeros where nothing comes in."""
    h, w = img.shape
    out = np.zeros_like(img)
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        img[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def test_random_shift_moves_each_image_within_the_limit():
    rng = np.random.default_rng(0)
    images = rng.integers(1, 255, size=(40, 6, 5), dtype=np.uint8)
    out = datasets.random_shift(images, 2, rng=1)
    assert out.shape == images.shape and out.dtype == np.uint8
    offsets = set()
    for img, res in zip(images, out):
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if np.array_equal(shifted(img, dy, dx), res)]
        assert len(found) == 1
        offsets.add(found[0])
    assert len(offsets) > 10  # offsets vary from image to image
    rows_ = datasets.random_shift(images.reshape(40, 30), 2, rng=1, image_shape=(6, 5))
    np.testing.assert_array_equal(rows_, out.reshape(40, 30))
    np.testing.assert_array_equal(datasets.random_shift(images, 0), images)
    with pytest.raises(ValueError, match="image_shape"):
        datasets.random_shift(images.reshape(40, 30), 1)
    with pytest.raises(ValueError, match="do not hold images"):
        datasets.random_shift(images.reshape(40, 30), 1, image_shape=(5, 5))
    with pytest.raises(ValueError, match="max_shift"):
        datasets.random_shift(images, -1)


def affine_reference(img, angle_deg, zoom, shift):
    """Bilinear resampling written pixel by pixel: output (i, j) reads the source at
    R(-angle) ((i, j) - centre - shift) / zoom + centre."""
    h, w = img.shape
    cy, cx = (h - 1) / 2, (w - 1) / 2
    a = np.deg2rad(angle_deg)
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            py, px = i - cy - shift[0], j - cx - shift[1]
            sy = (np.cos(a) * py - np.sin(a) * px) / zoom + cy
            sx = (np.sin(a) * py + np.cos(a) * px) / zoom + cx
            y0, x0 = int(np.floor(sy)), int(np.floor(sx))
            for yy, xx in ((y0, x0), (y0, x0 + 1), (y0 + 1, x0), (y0 + 1, x0 + 1)):
                if 0 <= yy < h and 0 <= xx < w:
                    out[i, j] += img[yy, xx] * (1 - abs(sy - yy)) * (1 - abs(sx - xx))
    return out


def test_random_affine_matches_a_pixel_by_pixel_reference():
    rng = np.random.default_rng(0)
    images = rng.random((3, 5, 6))
    out = datasets.random_affine(images, rng=4, max_rotation=30, max_scale=0.2, max_shift=1.5)
    assert out.shape == images.shape and out.dtype == np.float64
    g = np.random.default_rng(4)  # the documented draws, in order
    angles = g.uniform(-30, 30, 3)
    zooms = g.uniform(0.8, 1.2, 3)
    shifts = g.uniform(-1.5, 1.5, (3, 2))
    for k in range(3):
        ref = affine_reference(images[k], angles[k], zooms[k], shifts[k])
        np.testing.assert_allclose(out[k], ref, atol=1e-12)


def test_random_affine_identity_rows_and_errors():
    X, _ = datasets.digits()
    same = datasets.random_affine(X[:5], 0, image_shape=(8, 8), max_rotation=0, max_scale=0,
                                  max_shift=0)
    np.testing.assert_allclose(same, X[:5], atol=1e-6)
    assert same.dtype == np.float32 and same.shape == (5, 64)
    raw, _ = datasets.digits(flatten=False, scale=False)
    assert datasets.random_affine(raw[:2], 0).dtype == np.float32
    with pytest.raises(ValueError, match="image_shape"):
        datasets.random_affine(X[:2], 0)
    with pytest.raises(ValueError, match="below 1"):
        datasets.random_affine(raw[:2], 0, max_scale=1.0)
    with pytest.raises(ValueError, match="max_rotation"):
        datasets.random_affine(raw[:2], 0, max_rotation=-1)
