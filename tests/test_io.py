"""nn.save / nn.load: round trips, the pickle-free format, atomic writes, refusals."""

import os
import pickle
import zipfile

import numpy as np
import pytest

from autograd import Tensor
from nn import io
from nn.io import load, save


def test_state_dict_round_trip_restores_a_model(tmp_path):
    from nn import Linear, Sequential

    rng = np.random.default_rng(0)
    model = Sequential(Linear(4, 3), Linear(3, 2))
    path = save(model.state_dict(), tmp_path / "model.npz")
    assert path == tmp_path / "model.npz"
    fresh = Sequential(Linear(4, 3), Linear(3, 2))
    loaded = load(path)
    assert list(loaded) == list(model.state_dict())
    fresh.load_state_dict(loaded)
    x = Tensor(rng.standard_normal((5, 4)).astype(np.float32))
    np.testing.assert_array_equal(fresh(x).data, model(x).data)


def test_file_is_a_plain_npz_with_dotted_names(tmp_path):
    sd = {"layers.0.weight": np.ones((2, 3), np.float32), "layers.0.bias": np.zeros(2)}
    save(sd, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:
        assert "layers.0.weight" in npz.files and "layers.0.bias" in npz.files
        np.testing.assert_array_equal(npz["layers.0.weight"], sd["layers.0.weight"])


def test_nested_structures_and_dtypes_round_trip(tmp_path):
    obj = {
        "model": {"w": np.arange(6, dtype=np.float64).reshape(2, 3),
                  "mask": np.array([True, False]), "ids": np.arange(3, dtype=np.int64),
                  "pixels": np.arange(4, dtype=np.uint8), "half": np.ones(2, np.float16)},
        "optim": {"state": {0: {"step": 3, "exp_avg": np.full(3, 0.5, np.float32)}},
                  "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1],
                                    "name": "all", "foreach": None, "amsgrad": False}]},
        "tensor": Tensor(np.ones(3, np.float32), requires_grad=True),
        "frozen": Tensor(np.zeros((1, 2))),
        "scalar": np.float32(2.5),
        "zero_d": np.array(7),
        "nan": float("nan"),
        "labels": np.array(["zero", "one"]),
        "empty": np.zeros((0, 4), np.float32),
    }
    save(obj, tmp_path / "ckpt.npz")
    back = load(tmp_path / "ckpt.npz")
    assert list(back) == list(obj)
    m = back["model"]
    for k, v in obj["model"].items():
        assert m[k].dtype == v.dtype and np.array_equal(m[k], v)
    state = back["optim"]["state"]
    assert list(state) == [0] and state[0]["step"] == 3
    np.testing.assert_array_equal(state[0]["exp_avg"], obj["optim"]["state"][0]["exp_avg"])
    group = back["optim"]["param_groups"][0]
    assert group == obj["optim"]["param_groups"][0]
    assert isinstance(group["betas"], tuple) and isinstance(group["params"], list)
    t = back["tensor"]
    assert isinstance(t, Tensor) and t.requires_grad and t.dtype == np.float32
    assert isinstance(back["frozen"], Tensor) and not back["frozen"].requires_grad
    assert isinstance(back["scalar"], np.float32) and back["scalar"] == np.float32(2.5)
    assert back["zero_d"].shape == () and back["zero_d"] == 7
    assert np.isnan(back["nan"])
    assert back["labels"].tolist() == ["zero", "one"]
    assert back["empty"].shape == (0, 4)


def test_single_tensor_and_array(tmp_path):
    t = Tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    save(t, tmp_path / "t.npz")
    back = load(tmp_path / "t.npz")
    assert isinstance(back, Tensor) and back.shape == (3, 4)
    np.testing.assert_array_equal(back.data, t.data)
    arr = np.linspace(0, 1, 5)
    save(arr, tmp_path / "a")
    assert (tmp_path / "a").exists() and not (tmp_path / "a.npz").exists()
    np.testing.assert_array_equal(load(tmp_path / "a"), arr)


def test_colliding_names_stay_distinct(tmp_path):
    obj = {"a.b": np.zeros(1), "a": {"b": np.ones(1)}}
    save(obj, tmp_path / "c.npz")
    back = load(tmp_path / "c.npz")
    assert back["a.b"][0] == 0 and back["a"]["b"][0] == 1


def test_compressed_files_round_trip_and_are_smaller(tmp_path):
    sd = {"w": np.zeros((200, 200), np.float32)}
    save(sd, tmp_path / "plain.npz")
    save(sd, tmp_path / "small.npz", compress=True)
    assert (tmp_path / "small.npz").stat().st_size < (tmp_path / "plain.npz").stat().st_size / 10
    np.testing.assert_array_equal(load(tmp_path / "small.npz")["w"], sd["w"])


def test_saved_file_honours_the_umask(tmp_path):
    save({"w": np.zeros(1)}, tmp_path / "m.npz")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o666 & ~mask


def test_crash_mid_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    old = {"w": np.arange(5.0), "b": np.ones(2)}
    save(old, path)
    before = path.read_bytes()

    real_write = np.lib.format.write_array
    calls = []

    def failing_write(fp, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            fp.write(b"\x93NUMPY half an array")
            raise OSError("disk full (simulated)")
        return real_write(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", failing_write)
    with pytest.raises(OSError, match="simulated"):
        save({"w": np.zeros(1000), "b": np.zeros(3), "c": np.zeros(3)}, path)
    monkeypatch.setattr(np.lib.format, "write_array", real_write)
    assert len(calls) == 3
    assert path.read_bytes() == before
    back = load(path)
    np.testing.assert_array_equal(back["w"], old["w"])
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]


def test_failed_rename_cleans_up_the_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    save({"w": np.ones(2)}, path)

    def no_replace(src, dst):
        raise PermissionError("rename refused (simulated)")

    monkeypatch.setattr(io.os, "replace", no_replace)
    with pytest.raises(PermissionError):
        save({"w": np.zeros(2)}, path)
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]
    monkeypatch.undo()
    np.testing.assert_array_equal(load(path)["w"], np.ones(2))


def test_object_arrays_are_refused_on_save(tmp_path):
    with pytest.raises(TypeError, match=r"layer\.w .*object"):
        save({"layer": {"w": np.array([{"a": 1}, None], dtype=object)}}, tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()
    assert os.listdir(tmp_path) == []


def test_pickled_npz_is_refused_on_load(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, ok=np.ones(2), payload=np.array([{"run": "me"}], dtype=object))
    with pytest.raises(ValueError, match=r"'payload' is an object array") as err:
        load(path)
    assert str(path) in str(err.value)


def test_a_pickle_file_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"w": [1.0, 2.0]}))
    with pytest.raises(ValueError, match="pickled data is never loaded"):
        load(path)


def test_missing_and_damaged_files_are_named(tmp_path):
    missing = tmp_path / "nope" / "model.npz"
    with pytest.raises(FileNotFoundError, match="no such file: .*nope/model.npz"):
        load(missing)
    with pytest.raises(FileNotFoundError, match="directory"):
        save({"w": np.ones(1)}, missing)
    path = tmp_path / "cut.npz"
    save({"w": np.ones(1000)}, path)
    path.write_bytes(path.read_bytes()[:3000])
    with pytest.raises(ValueError, match="cut.npz"):
        load(path)
    with pytest.raises(IsADirectoryError):
        load(tmp_path)


def test_other_npz_and_npy_files_load_as_arrays(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.arange(3), b=np.eye(2))
    back = load(tmp_path / "plain.npz")
    assert sorted(back) == ["a", "b"] and np.array_equal(back["b"], np.eye(2))
    np.save(tmp_path / "one.npy", np.arange(4))
    assert load(tmp_path / "one.npy").tolist() == [0, 1, 2, 3]


def test_damaged_manifest_is_reported(tmp_path):
    path = tmp_path / "m.npz"
    with zipfile.ZipFile(path, "w") as zf, zf.open(io.MANIFEST + ".npy", "w") as f:
        np.lib.format.write_array(f, np.array('{"format": "other"}'))
    with pytest.raises(ValueError, match="damaged or unknown manifest"):
        load(path)


def test_unsupported_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"cannot save a set at opt"):
        save({"opt": {1, 2}}, tmp_path / "x.npz")
    with pytest.raises(TypeError, match="dict keys must be str or int"):
        save({(1, 2): np.ones(1)}, tmp_path / "x.npz")
