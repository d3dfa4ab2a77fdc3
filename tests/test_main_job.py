"""The main job's command line on tiny configurations: what it prints and saves."""

import ctypes
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nn import MLP
from nn.__main__ import limit_blas_threads, main, make_split, parse_sizes
from nn.io import load

ROOT = Path(__file__).resolve().parents[1]
ACCURACY = re.compile(r"^test accuracy: (\d+\.\d\d)% \((\d+)/(\d+)\)", re.M)


def openblas_threads():
    """The OpenBLAS thread count of this process, or None when numpy uses another BLAS."""
    try:
        with open("/proc/self/maps") as maps:
            libs = {ln.split()[-1] for ln in maps if "openblas" in ln.lower()}
    except OSError:
        return None
    for lib in libs:
        handle = ctypes.CDLL(lib)
        for name in ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads",
                     "openblas_get_num_threads64_", "openblas_get_num_threads"):
            getter = getattr(handle, name, None)
            if getter is not None:
                return int(getter())
    return None


@pytest.fixture(autouse=True)
def keep_blas_threads():
    """The in-process runs below set one BLAS thread; give the test process its own back."""
    before = openblas_threads()
    yield
    if before is not None:
        limit_blas_threads(before)


def test_limit_blas_threads_sets_the_openblas_count():
    before = openblas_threads()
    if before is None:
        pytest.skip("numpy is not linked to OpenBLAS here")
    assert limit_blas_threads(1) is True and openblas_threads() == 1
    limit_blas_threads(2)
    assert openblas_threads() == 2


def run_cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "nn", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_train_then_evaluate_in_a_subprocess(tmp_path):
    out = tmp_path / "run"
    proc = run_cli("train", "--dataset", "digits", "--epochs", "2", "--dropout", "0.1",
                   "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    match = ACCURACY.search(proc.stdout)
    assert match, proc.stdout
    pct, correct, total = float(match[1]), int(match[2]), int(match[3])
    assert total == 360 and pct == pytest.approx(100 * correct / total, abs=0.006)
    assert pct > 80.0
    assert "epoch 2/2" in proc.stderr  # the progress bar
    assert {"config.json", "history.json", "model.npz"} <= {p.name for p in out.iterdir()}

    config = json.loads((out / "config.json").read_text())
    assert config["dataset"] == "digits" and config["sizes"] == [64, 64, 10]
    assert config["test_accuracy"] == pytest.approx(correct / total)
    history = json.loads((out / "history.json").read_text())
    assert len(history["history"]["loss"]) == 2
    model = MLP(config["sizes"], dropout=config["dropout"])
    model.load_state_dict(load(out / "model.npz"))

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed" in proc.stdout
    else:
        assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"

    again = run_cli("evaluate", str(out), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert ACCURACY.search(again.stdout)[0] == match[0]


def test_default_run_directory_is_under_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--dataset", "xor", "--epochs", "300", "--no-progress",
                 "--no-plot", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "test accuracy: 100.00% (4/4)" in out and "xor has only 4 rows" in out
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.startswith("xor-") and (run / "model.npz").is_file()
    state = load(run / "model.npz")
    assert [v.shape for v in state.values()] == [(8, 2), (8,), (2, 8), (2,)]


def test_options_reach_the_model_and_optimizer(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["train", "--dataset", "moons", "--sizes", "16", "--optimizer", "momentum",
                 "--lr", "0.05", "--epochs", "3", "--batch-size", "50", "--seed", "3",
                 "--out", str(out), "--no-progress", "--no-plot"]) == 0
    text = capsys.readouterr().out
    assert "MLP [2, 16, 2] on moons" in text and "momentum lr=0.05" in text
    assert "3 epochs of batch 50" in text
    config = json.loads((out / "config.json").read_text())
    assert (config["optimizer"], config["lr"], config["batch_size"]) == ("momentum", 0.05, 50)


def test_evaluate_without_config_infers_the_sizes(tmp_path, capsys):
    out = tmp_path / "r"
    main(["train", "--dataset", "spiral", "--epochs", "2", "--dropout", "0.2", "--out", str(out),
          "--no-progress", "--no-plot"])
    first = ACCURACY.search(capsys.readouterr().out)[0]
    (out / "config.json").unlink()
    with pytest.raises(SystemExit, match="--dataset"):
        main(["evaluate", str(out / "model.npz")])
    main(["evaluate", str(out / "model.npz"), "--dataset", "spiral"])
    text = capsys.readouterr().out
    assert "MLP [2, 64, 64, 3]" in text and ACCURACY.search(text)[0] == first


def test_sizes_are_full_or_hidden():
    assert parse_sizes(None, 784, 10, (256,)) == [784, 256, 10]
    assert parse_sizes("784,128,10", 784, 10, (256,)) == [784, 128, 10]
    assert parse_sizes("128, 64", 784, 10, (256,)) == [784, 128, 64, 10]
    with pytest.raises(SystemExit, match="integers"):
        parse_sizes("a,b", 784, 10, (256,))
    with pytest.raises(SystemExit, match="positive"):
        parse_sizes("0", 784, 10, (256,))


def test_split_is_seeded_stratified_and_holds_out_1000_mnist_digits():
    a, b = make_split("mnist", 0), make_split("mnist", 0)
    assert a.X_train.shape == (4000, 784) and a.X_test.shape == (1000, 784)
    assert np.bincount(a.y_test).tolist() == [100] * 10
    assert np.array_equal(a.X_test, b.X_test)
    assert not np.array_equal(make_split("mnist", 1).y_test, a.y_test)


def test_bad_arguments_exit_with_a_message(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--dataset", "cifar"])
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="--epochs"):
        main(["train", "--dataset", "xor", "--epochs", "0", "--out", str(tmp_path)])
