"""The benchmark suite runs: every workload once at a tiny size, the harness's bookkeeping,
and the hand-written numpy references the workloads check chaingrad against (verified here
by central differences). No assertion is about speed."""

from __future__ import annotations

import gc
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import workloads as W
from benchmarks.harness import Case, Row, Target, Workload, format_rows, run_workload

ROOT = Path(__file__).resolve().parent.parent


def _num_grad(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        hi = f()
        x[i] = old - eps
        lo = f()
        x[i] = old
        g[i] = (hi - lo) / (2 * eps)
    return g


# -- every workload runs at a tiny size ------------------------------------------------
@pytest.mark.parametrize("name", list(W.WORKLOADS))
def test_workload_runs_tiny(name: str) -> None:
    wl = W.build(name, "tiny")
    res = run_workload(wl, repeats=1, min_sample=0.0)
    if name == "conv" and not wl.cases and wl.extras is None:
        assert res.skipped == ["benchmarks/conv.py not present"]
        return
    assert res.rows, f"{name} produced no rows"
    keys = [r.key for r in res.rows]
    assert len(keys) == len(set(keys)), f"{name}: duplicate row keys {keys}"
    for case in wl.cases:
        assert len(res.samples[case.key]) == 1
    for r in res.rows:
        assert r.workload == name
        assert math.isfinite(r.median), f"{name}/{r.key}: median {r.median}"
        if r.target:
            assert r.met in (True, False, None)
        if name != "conv":  # conv's rows come from benchmarks/conv.py with its own names
            for base in r.ratios:
                assert base in keys, f"{name}/{r.key}: ratio to unknown row {base}"
    assert any(r.engine == "chaingrad" for r in res.rows)
    assert any(r.engine == "numpy" for r in res.rows) or name in ("conv", "memory")


def test_unknown_workload_and_scale_are_named() -> None:
    with pytest.raises(ValueError, match="unknown workload 'nope'.*scalar-mlp"):
        W.build("nope")
    with pytest.raises(ValueError, match="unknown scale 'huge'"):
        W.build("hvp", "huge")


def test_command_line_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--tiny", "--only", "tiny-ops", "memory",
         "--repeats", "2", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "targets met:" in proc.stdout
    doc = json.loads(out.read_text())
    assert doc["meta"]["threads"] == 1 and doc["meta"]["scale"] == "tiny"
    assert set(doc["workloads"]) == {"tiny-ops", "memory"}
    assert doc["errors"] == {}
    tiny = doc["workloads"]["tiny-ops"]
    assert all(len(v) == 2 for v in tiny["samples_seconds_per_call"].values())
    assert {r["key"] for r in tiny["rows"]} >= {"chaingrad fwd", "chaingrad fwd+bwd",
                                                "numpy fwd", "numpy fwd+bwd"}


def test_command_line_rejects_unknown_names() -> None:
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "warp-drive"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "warp-drive" in proc.stderr


# -- the harness -----------------------------------------------------------------------
def test_cases_are_interleaved_and_rotated() -> None:
    order: list[str] = []

    def make(key: str):
        return lambda: (lambda: order.append(key))

    wl = Workload("fake", "three counters", [Case(k, "x", make(k)) for k in "abc"])
    res = run_workload(wl, repeats=3, min_sample=0.0)
    timed = order[3:]  # with min_sample 0 one calibration call per case comes first
    assert timed == list("abc" "bca" "cab")
    assert [len(res.samples[k]) for k in "abc"] == [3, 3, 3]


def test_gc_switch_is_honoured_and_restored() -> None:
    seen: dict[str, bool] = {}

    def make(key: str):
        return lambda: (lambda: seen.__setitem__(key, gc.isenabled()))

    wl = Workload("fake", "gc", [Case("on", "x", make("on")),
                                 Case("off", "x", make("off"), gc_enabled=False)])
    run_workload(wl, repeats=1, min_sample=0.0)
    assert seen == {"on": True, "off": False}
    assert gc.isenabled()


def test_ratios_units_and_targets() -> None:
    wl = Workload("fake", "ratio", [
        Case("slow", "chaingrad", lambda: (lambda: sum(range(20000))), unit="us/op", per=4,
             ratio_to=("fast",), target=Target("<= 1x fast", max_ratio={"fast": 1.0})),
        Case("fast", "numpy", lambda: (lambda: None), unit="us/op", per=4),
    ])
    res = run_workload(wl, repeats=3, min_sample=0.0)
    slow, fast = res.rows
    assert slow.ratios["fast"] > 1.0 and slow.met is False
    assert slow.median == pytest.approx(np.median(res.samples["slow"]) * 1e6 / 4)
    assert slow.lo <= slow.median <= slow.hi
    assert fast.ratios == {} and fast.met is None
    table = format_rows(res.rows)
    assert "slow" in table and "NO" in table and "x fast" in table


def test_target_needs_its_baseline() -> None:
    t = Target("<= 2 and <= torch", 2.0, {"torch": 1.0})
    assert t.met(1.0, {"torch": 0.5}) is True
    assert t.met(3.0, {"torch": 0.5}) is False
    assert t.met(1.0, {"torch": 1.5}) is False
    assert t.met(1.0, {}) is None


def test_check_failure_names_the_difference() -> None:
    with pytest.raises(AssertionError, match=r"thing: max abs error 0.5 at \(1,\)"):
        W._close("thing", np.array([1.0, 2.5]), np.array([1.0, 2.0]), 1e-6, 1e-6)
    with pytest.raises(AssertionError, match="shape"):
        W._close("thing", np.zeros(2), np.zeros(3), 1e-6, 1e-6)


def test_conv_module_results_become_rows() -> None:
    rows = W._conv_rows({"chaingrad": {"median": 2.0, "unit": "ms", "min": 1.5, "max": 3.0},
                         "im2col": 1.0, "ratio": 2.0, "target": "<= 1.5x", "met": False,
                         "label": "text is ignored"})
    assert [r.key for r in rows] == ["chaingrad", "im2col", "ratio"]
    assert rows[0].unit == "ms" and rows[0].lo == 1.5
    assert rows[-1].met is False and rows[-1].target == "<= 1.5x"
    given = W._conv_rows({"rows": [{"key": "k", "median": 1.0, "unit": "ms", "x": 1}]})
    assert given == [Row("conv", "k", "chaingrad", "ms", 1.0)]


# -- the numpy references the workloads check chaingrad against ------------------------
def test_moons_are_two_labelled_half_circles() -> None:
    X, y = W.moons(100, noise=0.0)
    assert X.shape == (100, 2) and sorted(set(y.tolist())) == [-1.0, 1.0]
    outer = X[y < 0]
    np.testing.assert_allclose(np.hypot(*outer.T), 1.0)
    np.testing.assert_allclose(np.hypot(X[y > 0, 0] - 1, X[y > 0, 1] - 0.5), 1.0)


def test_numpy_svm_gradients_match_central_differences() -> None:
    X, Y = W.moons(12)
    layers = W._uniform_layers((2, 4, 3, 1), seed=7)
    _, grads = W.numpy_svm_grads(layers, X, Y)
    params = [p for wb in layers for p in wb]
    for p, g in zip(params, grads):
        num = _num_grad(lambda: W.numpy_svm_grads(layers, X, Y)[0], p)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-8)


def test_numpy_mlp_gradients_match_central_differences() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 4))
    y = rng.integers(0, 3, 5)
    layers = [(rng.standard_normal((4, 6)), rng.standard_normal(6)),
              (rng.standard_normal((6, 3)), rng.standard_normal(3))]
    _, grads = W.numpy_mlp_grads(X, y, layers)
    for p, g in zip([p for wb in layers for p in wb], grads):
        num = _num_grad(lambda: W.numpy_mlp_grads(X, y, layers)[0], p)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-8)


def test_numpy_tiny_backward_matches_central_differences() -> None:
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(4) for _ in range(3))
    _, gx, gw, gb = W.numpy_tiny(x, w, b, 6, True)
    for arr, g in ((x, gx), (w, gw), (b, gb)):
        num = _num_grad(lambda: float(W.numpy_tiny(x, w, b, 6, False)[0]), arr)
        np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)


def test_numpy_hvp_matches_differences_of_the_gradient() -> None:
    P = W._hvp_problem(W.SIZES["tiny"])
    g, hv = W.numpy_hvp(P)
    num = _num_grad(lambda: float(W.numpy_hvp(P, False)[0].ravel() @ P["v"].ravel()), P["W1"],
                    eps=1e-5)
    np.testing.assert_allclose(hv, num, rtol=1e-6, atol=1e-9)
    W1 = P["W1"]

    def loss() -> float:
        h = np.tanh(P["X"] @ W1 + P["b1"])
        z = h @ P["W2"] + P["b2"]
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(P["y"])), P["y"]].mean())
    np.testing.assert_allclose(g, _num_grad(loss, W1), rtol=1e-6, atol=1e-9)


def test_cpu_clock_and_unknown_clock() -> None:
    wl = Workload("fake", "clock", [Case("a", "x", lambda: (lambda: sum(range(1000))))])
    res = run_workload(wl, repeats=2, min_sample=0.0, clock="cpu")
    assert len(res.samples["a"]) == 2 and all(s >= 0 for s in res.samples["a"])
    with pytest.raises(ValueError, match="unknown clock 'sundial'"):
        run_workload(wl, repeats=1, clock="sundial")


def test_collector_work_is_charged_to_the_case_that_caused_it() -> None:
    def churn():
        def step() -> None:
            keep = []
            for _ in range(5000):  # survivors: the collector must run while they pile up
                d: dict = {}
                d["self"] = d
                keep.append(d)
        return step

    wl = Workload("fake", "gc", [Case("on", "x", churn), Case("off", "x", churn,
                                                                gc_enabled=False)])
    on, off = run_workload(wl, repeats=2, min_sample=0.0).rows
    assert on.gc_collections[0] >= 1 and 0.0 < on.gc_share <= 1.0
    assert off.gc_collections == [0, 0, 0] and off.gc_share == 0.0
    assert "gc%" in format_rows([on, off])
