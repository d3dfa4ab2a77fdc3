"""The workloads of the benchmark suite, each for chaingrad and for its baselines.

Every workload is built by a function of a *scale*: ``"full"`` (the sizes of the targets),
``"quick"`` (the same sizes where they are cheap, shorter chains and runs where not) and
``"tiny"`` (a few elements, for the test suite to prove the code runs). Baselines are the
bare numpy work (always), PyTorch CPU and micrograd (when importable). Each workload's
``check`` compares chaingrad's result with an independent numpy computation first, so a
timing is never taken of a wrong answer.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .harness import Case, Row, Target, Workload, rss_mb

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Size:
    """Problem sizes of every workload at one scale."""

    hidden: tuple[int, ...]  # scalar-mlp hidden layers
    points: int  # scalar-mlp data points
    tiny_iters: int  # tiny-ops loop count (5 ops each, plus the final sum)
    mlp: tuple[int, ...]  # mlp-train layer sizes
    batch: int
    chain: int  # deep-chain length
    hvp: tuple[int, int, int]  # hvp MLP in-hidden-out
    hvp_batch: int
    mem_marks: tuple[int, ...]  # memory: steps at which RSS is read (last = run length)


SIZES = {
    "full": Size((16, 16), 100, 250, (784, 256, 256, 10), 128, 100_000, (64, 64, 10), 32,
                 (10, 100, 1000)),
    "quick": Size((16, 16), 100, 250, (784, 256, 256, 10), 128, 20_000, (64, 64, 10), 32,
                  (10, 50, 150)),
    "tiny": Size((4, 4), 8, 10, (32, 16, 16, 10), 8, 1_000, (8, 8, 3), 4, (2, 4, 6)),
}

FULL_CHAIN = SIZES["full"].chain


def has(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    return importlib.util.find_spec(module) is not None


def _torch() -> Any:
    """Import torch with its intra-op threads set to the suite's pinned count."""
    import torch

    n = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    if n > 0 and torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return torch


def _close(name: str, got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> None:
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        raise AssertionError(f"{name}: shape {got.shape} != expected {want.shape}")
    if not np.allclose(got, want, rtol=rtol, atol=atol):
        err = np.abs(got - want)
        i = tuple(int(k) for k in np.unravel_index(int(np.argmax(err)), err.shape))
        raise AssertionError(f"{name}: max abs error {err.max():.3g} at {i}: "
                             f"got {float(got[i])!r}, expected {float(want[i])!r}")


# -- scalar-mlp ------------------------------------------------------------------------
def moons(n: int, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (like scikit-learn's make_moons); labels -1 / +1."""
    rng = np.random.default_rng(seed)
    n_out = n // 2
    n_in = n - n_out
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    X = np.concatenate([np.stack([np.cos(t_out), np.sin(t_out)], 1),
                        np.stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)], 1)])
    y = np.concatenate([-np.ones(n_out), np.ones(n_in)])
    X = X + rng.normal(0.0, noise, X.shape)
    perm = rng.permutation(n)
    return X[perm], y[perm]


def _uniform_layers(sizes: tuple[int, ...], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """micrograd's initialisation: weights (out, in) uniform in [-1, 1], biases 0."""
    rng = np.random.default_rng(seed)
    return [(rng.uniform(-1.0, 1.0, (o, i)), np.zeros(o)) for i, o in zip(sizes, sizes[1:])]


class ScalarMLP:
    """micrograd's MLP over any scalar ``Value`` class: ReLU hidden layers, linear output."""

    def __init__(self, value_cls: type, layers: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.value_cls = value_cls
        self.layers = [[([value_cls(float(w)) for w in row], value_cls(float(b)))
                        for row, b in zip(W, B)] for W, B in layers]
        self.params = [p for layer in self.layers for w, b in layer for p in (*w, b)]

    def __call__(self, x: list[Any]) -> Any:
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            out = []
            for w, b in layer:
                act = sum((wi * xi for wi, xi in zip(w, x)), b)
                out.append(act if i == last else act.relu())
            x = out
        return x[0]


def svm_step(model: ScalarMLP, X: list[list[float]], Y: list[float], lr: float,
             alpha: float = 1e-4) -> Any:
    """micrograd's demo step: max-margin loss + alpha*sum(p^2), zero grads, backward, SGD."""
    V = model.value_cls
    inputs = [[V(a) for a in row] for row in X]
    scores = [model(x) for x in inputs]
    losses = [(1 + -yi * si).relu() for yi, si in zip(Y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = alpha * sum(p * p for p in model.params)
    total = data_loss + reg_loss
    for p in model.params:
        p.grad = 0.0
    total.backward()
    for p in model.params:
        p.data -= lr * p.grad
    return total


def numpy_svm_grads(layers: list[tuple[np.ndarray, np.ndarray]], X: np.ndarray,
                    Y: np.ndarray, alpha: float = 1e-4) -> tuple[float, list[np.ndarray]]:
    """The same loss and its gradients (W, b per layer), vectorised and hand-derived."""
    h = X
    saved = []
    last = len(layers) - 1
    for i, (W, b) in enumerate(layers):
        z = h @ W.T + b
        saved.append((h, z))
        h = z if i == last else np.maximum(z, 0.0)
    margin = 1.0 - Y * h[:, 0]
    reg = sum(float((W * W).sum() + (b * b).sum()) for W, b in layers)
    loss = float(np.maximum(margin, 0.0).mean()) + alpha * reg
    g = ((margin > 0) * -Y / len(Y))[:, None]
    grads: list[np.ndarray] = []
    for i in range(last, -1, -1):
        W, b = layers[i]
        h_in, z = saved[i]
        if i != last:
            g = g * (z > 0)
        grads[:0] = [g.T @ h_in + 2 * alpha * W, g.sum(0) + 2 * alpha * b]
        g = g @ W
    return loss, grads


def scalar_mlp(size: Size) -> Workload:
    """micrograd's demo: one training step of MLP(2, [16, 16, 1]) of scalar Values."""
    import autograd as ag

    sizes = (2, *size.hidden, 1)
    X, Y = moons(size.points)
    Xl, Yl = X.tolist(), Y.tolist()
    init = _uniform_layers(sizes, seed=1)
    lr = 0.05

    def value_step(value_cls: type) -> Callable[[], Callable[[], Any]]:
        def setup() -> Callable[[], Any]:
            model = ScalarMLP(value_cls, init)
            return lambda: svm_step(model, Xl, Yl, lr)
        return setup

    def numpy_setup() -> Callable[[], Any]:
        layers = [(W.copy(), b.copy()) for W, b in init]

        def step() -> None:
            _, grads = numpy_svm_grads(layers, X, Y)
            for p, g in zip((p for wb in layers for p in wb), grads):
                p -= lr * g
        return step

    def check() -> None:
        model = ScalarMLP(ag.Value, init)
        loss = svm_step(model, Xl, Yl, lr=0.0)
        want_loss, want = numpy_svm_grads(init, X, Y)
        _close("scalar-mlp loss", np.array(loss.data), np.array(want_loss), 1e-12, 1e-12)
        got = []
        for layer in model.layers:
            got.append(np.array([[p.grad for p in w] for w, _ in layer]))
            got.append(np.array([b.grad for _, b in layer]))
        for k, (g, w) in enumerate(zip(got, want)):
            _close(f"scalar-mlp gradient {k}", g, w, 1e-9, 1e-12)

    micro = has("micrograd")
    ratio = ("micrograd gc on", "micrograd gc off") if micro else ()
    cases = [
        Case("chaingrad gc on", "chaingrad", value_step(ag.Value), unit="s/step",
             ratio_to=(*ratio, "numpy vectorised"),
             target=Target("<= 0.10 s/step", max_value=0.10)),
        Case("chaingrad gc off", "chaingrad", value_step(ag.Value), unit="s/step",
             gc_enabled=False, ratio_to=ratio),
    ]
    skipped = []
    if micro:
        from micrograd.engine import Value as MicroValue

        cases += [Case("micrograd gc on", "micrograd", value_step(MicroValue), unit="s/step"),
                  Case("micrograd gc off", "micrograd", value_step(MicroValue),
                       unit="s/step", gc_enabled=False)]
    else:
        skipped.append("micrograd (not installed)")
    cases.append(Case("numpy vectorised", "numpy", numpy_setup, unit="s/step",
                      note="the same step as batched numpy arrays"))
    return Workload("scalar-mlp", f"MLP(2, {list(sizes[1:])}) of scalar Values, "
                    f"{size.points} two-moons points, SVM loss + 1e-4*sum(p^2), one step",
                    cases, check=check, skipped=skipped)


# -- tiny-ops --------------------------------------------------------------------------
def _tiny_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    return tuple(rng.standard_normal(8).astype(np.float32) for _ in range(3))  # type: ignore


def numpy_tiny(x: np.ndarray, w: np.ndarray, b: np.ndarray, n: int,
               backward: bool) -> tuple[np.ndarray, ...]:
    """The tiny-ops chain in bare numpy; with ``backward``, hand-written gradients too."""
    y = x
    tape = []
    for _ in range(n):
        t = np.tanh(y * w + b)
        if backward:
            tape.append((y, t))
        y = t - y * 0.5
    s = y.sum()
    if not backward:
        return (s,)
    g = np.ones_like(y)
    gw = np.zeros_like(w)
    gb = np.zeros_like(b)
    for y_in, t in reversed(tape):
        gc = g * (1 - t * t)
        gw += gc * y_in
        gb += gc
        g = gc * w - g * 0.5
    return s, g, gw, gb


def tiny_ops(size: Size) -> Workload:
    """Per-op overhead: 250 x ``y = tanh(y*w + b) - y*0.5`` on float32 (8,), sum, backward."""
    import autograd as ag

    n = size.tiny_iters
    nops = 5 * n + 1
    x0, w0, b0 = _tiny_data()

    def chaingrad(backward: bool) -> Callable[[], Callable[[], Any]]:
        def setup() -> Callable[[], Any]:
            x, w, b = (ag.Tensor(a.copy(), requires_grad=True) for a in (x0, w0, b0))

            def forward() -> Any:
                y = x
                for _ in range(n):
                    y = (y * w + b).tanh() - y * 0.5
                return y.sum()

            def step() -> None:
                x.grad = w.grad = b.grad = None
                forward().backward()
            return step if backward else forward
        return setup

    def torch_(backward: bool) -> Callable[[], Callable[[], Any]]:
        def setup() -> Callable[[], Any]:
            torch = _torch()
            x, w, b = (torch.tensor(a.copy(), requires_grad=True) for a in (x0, w0, b0))

            def forward() -> Any:
                y = x
                for _ in range(n):
                    y = torch.tanh(y * w + b) - y * 0.5
                return y.sum()

            def step() -> None:
                x.grad = w.grad = b.grad = None
                forward().backward()
            return step if backward else forward
        return setup

    def numpy_(backward: bool) -> Callable[[], Callable[[], Any]]:
        return lambda: (lambda: numpy_tiny(x0, w0, b0, n, backward))

    def check() -> None:
        x, w, b = (ag.Tensor(a.copy(), requires_grad=True) for a in (x0, w0, b0))
        y = x
        for _ in range(n):
            y = (y * w + b).tanh() - y * 0.5
        s = y.sum()
        s.backward()
        want = numpy_tiny(x0, w0, b0, n, True)
        _close("tiny-ops sum", s.data, want[0], 1e-5, 1e-5)
        for name, t, g in zip("xwb", (x, w, b), want[1:]):
            if t.grad is None or t.grad.dtype != np.float32:
                raise AssertionError(f"tiny-ops: gradient of {name} missing or not float32")
            _close(f"tiny-ops d/d{name}", t.grad.data, g, 1e-4, 1e-5)

    torch_ok = has("torch")
    tf = ("torch fwd",) if torch_ok else ()
    tb = ("torch fwd+bwd",) if torch_ok else ()
    per = dict(unit="us/op", per=nops)
    cases = [
        Case("chaingrad fwd", "chaingrad", chaingrad(False), ratio_to=(*tf, "numpy fwd"),
             target=Target("<= 2.5 us/op and < torch", 2.5, {"torch fwd": 1.0}), **per),
        Case("chaingrad fwd+bwd", "chaingrad", chaingrad(True),
             ratio_to=(*tb, "numpy fwd+bwd"),
             target=Target("<= 6.5 us/op and < torch", 6.5, {"torch fwd+bwd": 1.0}), **per),
    ]
    skipped = []
    if torch_ok:
        cases += [Case("torch fwd", "torch", torch_(False), **per),
                  Case("torch fwd+bwd", "torch", torch_(True), **per)]
    else:
        skipped.append("torch (not installed)")
    cases += [Case("numpy fwd", "numpy", numpy_(False), **per),
              Case("numpy fwd+bwd", "numpy", numpy_(True), note="hand-written backward",
                   **per)]
    return Workload("tiny-ops", f"{n} x y = tanh(y*w + b) - y*0.5 on float32 (8,), sum, "
                    f"backward ({nops} ops)", cases, check=check, skipped=skipped)


# -- mlp-train -------------------------------------------------------------------------
def _mlp_problem(size: Size) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray,
                                                                            np.ndarray]]]:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((size.batch, size.mlp[0])).astype(np.float32)
    y = rng.integers(0, size.mlp[-1], size.batch)
    layers = [((rng.standard_normal((i, o)) * math.sqrt(2.0 / i)).astype(np.float32),
               (rng.standard_normal(o) * 0.01).astype(np.float32))
              for i, o in zip(size.mlp, size.mlp[1:])]
    return X, y, layers


def numpy_mlp_grads(X: np.ndarray, y: np.ndarray,
                    layers: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, list]:
    """Softmax cross-entropy of a ReLU MLP and its gradients, by hand in numpy."""
    h = X
    saved = []
    last = len(layers) - 1
    for i, (W, b) in enumerate(layers):
        z = h @ W + b
        saved.append((h, z))
        h = z if i == last else np.maximum(z, 0)
    m = h.max(axis=1, keepdims=True)
    e = np.exp(h - m)
    s = e.sum(axis=1, keepdims=True)
    logp = h - m - np.log(s)
    B = len(y)
    loss = float(-logp[np.arange(B), y].mean())
    g = e / s
    g[np.arange(B), y] -= 1
    g /= B
    grads: list[np.ndarray] = []
    for i in range(last, -1, -1):
        W, _ = layers[i]
        h_in, z = saved[i]
        if i != last:
            g = g * (z > 0)
        grads[:0] = [h_in.T @ g, g.sum(0)]
        if i:
            g = g @ W.T
    return loss, grads


def _plain_mlp_step(ag: Any, X: np.ndarray, y: np.ndarray,
                    layers: list[tuple[np.ndarray, np.ndarray]], lr: float
                    ) -> tuple[Callable[[], Any], list[Any]]:
    """A chaingrad training step written with plain autograd ops (no nn)."""
    params = [(ag.Tensor(W.copy(), requires_grad=True), ag.Tensor(b.copy(), requires_grad=True))
              for W, b in layers]
    flat = [p for wb in params for p in wb]
    Xt = ag.Tensor(X)
    idx = (np.arange(len(y)), y)
    last = len(params) - 1

    def step() -> Any:
        h = Xt
        for i, (W, b) in enumerate(params):
            h = h @ W + b
            if i != last:
                h = h.relu()
        loss = -h.log_softmax(axis=-1)[idx].mean()
        for p in flat:
            p.grad = None
        loss.backward()
        for p in flat:
            p.data -= lr * p.grad.data
        return loss
    return step, flat


def _nn_api() -> Any | None:
    """The nn package when it offers MLP and functional.cross_entropy, else None."""
    try:
        nn = importlib.import_module("nn")
        importlib.import_module("nn.functional")
    except ImportError:
        return None
    if not hasattr(nn, "MLP") or not hasattr(nn.functional, "cross_entropy"):
        return None
    return nn


def mlp_train(size: Size) -> Workload:
    """One SGD step of a 784-256-256-10 ReLU MLP, batch 128, float32, cross-entropy."""
    import autograd as ag

    X, y, layers = _mlp_problem(size)
    lr = 0.01
    B = size.batch
    dims = size.mlp

    def plain() -> Callable[[], Any]:
        return _plain_mlp_step(ag, X, y, layers, lr)[0]

    def with_nn() -> Callable[[], Any]:
        nn = _nn_api()
        model = nn.MLP(list(dims))
        F = nn.functional
        Xt = ag.Tensor(X)
        yt = ag.Tensor(y)
        params = list(model.parameters())
        optim = getattr(nn, "optim", None)
        opt = optim.SGD(params, lr=lr) if optim is not None and hasattr(optim, "SGD") else None

        def step() -> Any:
            loss = F.cross_entropy(model(Xt), yt)
            if opt is not None:
                opt.zero_grad()
            else:
                for p in params:
                    p.grad = None
            loss.backward()
            if opt is not None:
                opt.step()
            else:
                for p in params:
                    p.data -= lr * p.grad.data
            return loss
        return step

    def torch_() -> Callable[[], Any]:
        torch = _torch()
        F = torch.nn.functional
        params = [(torch.tensor(W.T.copy(), requires_grad=True),
                   torch.tensor(b.copy(), requires_grad=True)) for W, b in layers]
        flat = [p for wb in params for p in wb]
        Xt = torch.from_numpy(X)
        yt = torch.from_numpy(y)
        last = len(params) - 1

        def step() -> Any:
            h = Xt
            for i, (W, b) in enumerate(params):
                h = F.linear(h, W, b)
                if i != last:
                    h = torch.relu(h)
            loss = F.cross_entropy(h, yt)
            for p in flat:
                p.grad = None
            loss.backward()
            with torch.no_grad():
                for p in flat:
                    p.add_(p.grad, alpha=-lr)
            return loss
        return step

    def matmuls() -> Callable[[], Any]:
        rng = np.random.default_rng(4)

        def r(*shape: int) -> np.ndarray:
            return rng.standard_normal(shape).astype(np.float32)
        Xa = r(B, dims[0])
        Ws = [r(i, o) for i, o in zip(dims, dims[1:])]
        hs = [r(B, d) for d in dims[1:-1]]
        gs = [r(B, d) for d in dims[1:]]
        ins = [Xa, *hs]

        def step() -> None:
            for h, W in zip(ins, Ws):  # forward: one per layer
                h @ W
            for i in range(len(Ws) - 1, -1, -1):  # backward: dW for each, dh below the top
                ins[i].T @ gs[i]
                if i:
                    gs[i] @ Ws[i].T
        return step

    def numpy_step() -> Callable[[], Any]:
        ps = [(W.copy(), b.copy()) for W, b in layers]

        def step() -> None:
            _, grads = numpy_mlp_grads(X, y, ps)
            for p, g in zip((p for wb in ps for p in wb), grads):
                p -= lr * g
        return step

    def check() -> None:
        step, flat = _plain_mlp_step(ag, X, y, layers, 0.0)
        loss = step()
        want_loss, want = numpy_mlp_grads(X, y, layers)
        _close("mlp-train loss", loss.data, np.array(want_loss), 1e-5, 1e-6)
        for k, (p, g) in enumerate(zip(flat, want)):
            if p.grad.dtype != np.float32:
                raise AssertionError(f"mlp-train: gradient {k} is {p.grad.dtype}, not float32")
            _close(f"mlp-train gradient {k}", p.grad.data, g, 1e-3, 1e-5 * float(
                np.abs(g).max() + 1e-30))

    torch_ok = has("torch")
    vs = ("numpy 8 matmuls", "numpy step") + (("torch",) if torch_ok else ())
    floor = Target("<= 1.3x the matmul floor", max_ratio={"numpy 8 matmuls": 1.3})
    cases = [Case("chaingrad ops", "chaingrad", plain, ratio_to=vs, target=floor,
                  note="plain autograd ops")]
    skipped = []
    if _nn_api() is not None:
        cases.append(Case("chaingrad nn", "chaingrad", with_nn, ratio_to=vs, target=floor,
                          note="nn.MLP + functional.cross_entropy + optim"))
    else:
        skipped.append("chaingrad nn (nn.MLP or nn.functional.cross_entropy missing)")
    if torch_ok:
        cases.append(Case("torch", "torch", torch_, ratio_to=("numpy 8 matmuls",),
                          note="F.linear, F.cross_entropy, manual SGD"))
    else:
        skipped.append("torch (not installed)")
    n_mm = 3 * (len(dims) - 1) - 1  # forward one per layer; backward dW each, dh below top
    cases += [Case("numpy 8 matmuls", "numpy", matmuls,
                   note=f"the {n_mm} matmuls of a step, nothing else"),
              Case("numpy step", "numpy", numpy_step, ratio_to=("numpy 8 matmuls",),
                   note="the whole step by hand in numpy")]
    return Workload("mlp-train", f"MLP {'-'.join(map(str, dims))} ReLU, batch {B}, float32, "
                    "softmax cross-entropy, one SGD step", cases, check=check,
                    skipped=skipped)


# -- deep-chain ------------------------------------------------------------------------
def _deep_chain_step(engine: str, n: int) -> Callable[[], Any]:
    if engine == "chaingrad":
        import autograd as ag

        x = ag.Tensor(np.array(1.0, dtype=np.float32), requires_grad=True)

        def step() -> Any:
            x.grad = None
            y = x
            for _ in range(n):
                y = y * 1.0001 + 0.0001
            y.backward()
            return x.grad
        return step
    if engine == "torch":
        torch = _torch()
        xt = torch.tensor(1.0, requires_grad=True)

        def tstep() -> Any:
            xt.grad = None
            y = xt
            for _ in range(n):
                y = y * 1.0001 + 0.0001
            y.backward()
            return xt.grad
        return tstep
    if engine == "numpy":
        x0 = np.array(1.0, dtype=np.float32)

        def nstep() -> Any:
            y = x0
            for _ in range(n):
                y = y * np.float32(1.0001) + np.float32(0.0001)
            g = np.float32(1.0)
            for _ in range(n):
                g = g * np.float32(1.0001)
            return g
        return nstep
    raise ValueError(f"deep-chain: unknown engine {engine!r}")


def _run_probe(kind: str, *args: Any) -> dict[str, Any]:
    """Run a memory probe in a fresh interpreter (so its peak RSS is its own)."""
    code = ("import json, sys; from benchmarks.workloads import probe; "
            "print(json.dumps(probe(*json.loads(sys.argv[1]))))")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, "-c", code, json.dumps([kind, *args])],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"memory probe {kind} {args} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def probe(kind: str, *args: Any) -> dict[str, Any]:
    """Memory measurements run inside a fresh process; see :func:`_run_probe`."""
    if kind == "deep-chain":
        import gc

        engine, n, runs = args
        step = _deep_chain_step(engine, n)
        base, _ = rss_mb()
        step()
        after1, peak1 = rss_mb()
        step()  # the allocator settles over the first two runs; growth is counted after
        gc.collect()
        after2, _ = rss_mb()
        objects = len(gc.get_objects())
        for _ in range(runs - 2):
            step()
        gc.collect()
        after, peak = rss_mb()
        return {"peak": peak1 - base, "after_first": after1 - base, "peak_all": peak - base,
                "growth": after - after2, "objects": len(gc.get_objects()) - objects}
    if kind == "memory":
        scale, = args
        size = SIZES[scale]
        import autograd as ag

        X, y, layers = _mlp_problem(size)
        step, _ = _plain_mlp_step(ag, X, y, layers, 0.01)
        base, _ = rss_mb()
        marks = {}
        for i in range(1, size.mem_marks[-1] + 1):
            step()
            if i in size.mem_marks:
                cur, peak = rss_mb()
                marks[str(i)] = {"rss": cur - base, "peak": peak - base}
        return {"marks": marks}
    raise ValueError(f"probe: unknown kind {kind!r}")


def deep_chain(size: Size) -> Workload:
    """100,000 sequential ``y = y*1.0001 + 0.0001`` on a scalar tensor, forward+backward."""
    n = size.chain
    limit = 1.5 * n / FULL_CHAIN
    torch_ok = has("torch")

    def setup(engine: str) -> Callable[[], Callable[[], Any]]:
        return lambda: _deep_chain_step(engine, n)

    def check() -> None:
        g = _deep_chain_step("chaingrad", n)()
        want = np.float32(1.0001) ** n
        _close("deep-chain dy/dx", g.data, np.array(want), 1e-3, 0.0)

    def memory() -> list[Row]:
        rows = []
        runs = 5
        flat = Target(f"<= 1 MB growth, runs 2->{runs} (flat)", max_value=1.0)
        for engine in ("chaingrad", "torch") if torch_ok else ("chaingrad",):
            m = _run_probe("deep-chain", engine, n, runs)
            per_op = m["peak"] * 2**20 / (2 * n)
            rows.append(Row("deep-chain", f"{engine} peak RSS", engine, "MB", m["peak"],
                            note=f"first run, ~{per_op:.0f} bytes per recorded op; "
                                 f"{m['after_first']:.1f} MB still mapped after it"))
            mine = engine == "chaingrad"
            rows.append(Row("deep-chain", f"{engine} growth runs 2->{runs}", engine, "MB",
                            m["growth"], target=flat.text if mine else "",
                            met=flat.met(m["growth"], {}) if mine else None,
                            note=f"{m['objects']:+d} live Python objects"))
        return rows

    scaled = "" if n == FULL_CHAIN else f" (scaled to {n:,} ops)"
    cases = [Case("chaingrad", "chaingrad", setup("chaingrad"), unit="s",
                  ratio_to=(("torch",) if torch_ok else ()) + ("numpy",),
                  target=Target(f"<= {limit:.3g} s{scaled}", max_value=limit))]
    skipped = []
    if torch_ok:
        cases.append(Case("torch", "torch", setup("torch"), unit="s"))
    else:
        skipped.append("torch (not installed)")
    skipped.append("HIPS autograd (its import name `autograd` is chaingrad's own)")
    cases.append(Case("numpy", "numpy", setup("numpy"), unit="s",
                      note="scalar loop forward and backward, no graph"))
    return Workload("deep-chain", f"{n:,} sequential y = y*1.0001 + 0.0001 on a float32 "
                    "scalar tensor, forward+backward", cases, extras=memory, check=check,
                    skipped=skipped)


# -- hvp -------------------------------------------------------------------------------
def _hvp_problem(size: Size) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    i, h, o = size.hvp
    return {
        "X": rng.standard_normal((size.hvp_batch, i)),
        "y": rng.integers(0, o, size.hvp_batch),
        "W1": rng.standard_normal((i, h)) / math.sqrt(i),
        "b1": rng.standard_normal(h) * 0.1,
        "W2": rng.standard_normal((h, o)) / math.sqrt(h),
        "b2": rng.standard_normal(o) * 0.1,
        "v": rng.standard_normal((i, h)),
    }


def numpy_hvp(P: dict[str, np.ndarray], with_hvp: bool = True
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """Gradient of the tanh-MLP cross-entropy w.r.t. W1 and, by the R-operator (forward
    mode over the hand-written reverse pass), its Hessian-vector product with ``v``."""
    X, y, W1, b1, W2, b2, V = (P[k] for k in ("X", "y", "W1", "b1", "W2", "b2", "v"))
    B = len(y)
    h = np.tanh(X @ W1 + b1)
    z2 = h @ W2 + b2
    e = np.exp(z2 - z2.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    d2 = p.copy()
    d2[np.arange(B), y] -= 1
    d2 /= B
    dh = d2 @ W2.T
    dz1 = dh * (1 - h * h)
    g = X.T @ dz1
    if not with_hvp:
        return g, None
    rh = (1 - h * h) * (X @ V)
    rz2 = rh @ W2
    rd2 = p * (rz2 - (p * rz2).sum(axis=1, keepdims=True)) / B
    rdh = rd2 @ W2.T
    rdz1 = rdh * (1 - h * h) - dh * 2 * h * rh
    return g, X.T @ rdz1


def hvp(size: Size) -> Workload:
    """Hessian-vector product of an MLP 64-64-10 loss w.r.t. its first weight, float64."""
    import autograd as ag

    P = _hvp_problem(size)
    idx = (np.arange(size.hvp_batch), P["y"])

    def chaingrad_fns() -> tuple[Callable[[], Any], Callable[[], Any]]:
        T = {k: ag.Tensor(P[k].copy(), requires_grad=True) for k in ("W1", "b1", "W2", "b2")}
        X = ag.Tensor(P["X"])
        v = ag.Tensor(P["v"])
        W1 = T["W1"]

        def loss() -> Any:
            h = (X @ W1 + T["b1"]).tanh()
            return -(h @ T["W2"] + T["b2"]).log_softmax(axis=-1)[idx].mean()

        def grad() -> Any:
            return ag.grad(loss(), [W1])[0]

        def hv() -> Any:
            (g,) = ag.grad(loss(), [W1], create_graph=True)
            return ag.grad((g * v).sum(), [W1])[0]
        return grad, hv

    def torch_fns() -> tuple[Callable[[], Any], Callable[[], Any]]:
        torch = _torch()
        F = torch.nn.functional
        T = {k: torch.tensor(P[k].copy(), requires_grad=True) for k in ("W1", "b1", "W2", "b2")}
        X = torch.from_numpy(P["X"])
        v = torch.from_numpy(P["v"])
        y = torch.from_numpy(P["y"])
        W1 = T["W1"]

        def loss() -> Any:
            h = torch.tanh(X @ W1 + T["b1"])
            return F.cross_entropy(h @ T["W2"] + T["b2"], y)

        def grad() -> Any:
            return torch.autograd.grad(loss(), [W1])[0]

        def hv() -> Any:
            (g,) = torch.autograd.grad(loss(), [W1], create_graph=True)
            return torch.autograd.grad((g * v).sum(), [W1])[0]
        return grad, hv

    def check() -> None:
        grad, hv = chaingrad_fns()
        g_want, hv_want = numpy_hvp(P)
        _close("hvp gradient", grad().data, g_want, 1e-10, 1e-12)
        _close("hvp Hessian-vector product", hv().data, hv_want, 1e-8, 1e-10)

    torch_ok = has("torch")
    cases = [
        Case("chaingrad grad", "chaingrad", lambda: chaingrad_fns()[0],
             ratio_to=(("torch grad",) if torch_ok else ()) + ("numpy grad",),
             target=Target("<= torch grad", max_ratio={"torch grad": 1.0})),
        Case("chaingrad hvp", "chaingrad", lambda: chaingrad_fns()[1],
             ratio_to=("chaingrad grad",) + (("torch hvp",) if torch_ok else ()),
             target=Target("<= 2.0x chaingrad grad", max_ratio={"chaingrad grad": 2.0})),
    ]
    skipped = []
    if torch_ok:
        cases += [Case("torch grad", "torch", lambda: torch_fns()[0]),
                  Case("torch hvp", "torch", lambda: torch_fns()[1], ratio_to=("torch grad",))]
    else:
        skipped.append("torch (not installed)")
    cases += [Case("numpy grad", "numpy", lambda: (lambda: numpy_hvp(P, False)),
                   note="hand-written gradient"),
              Case("numpy hvp", "numpy", lambda: (lambda: numpy_hvp(P)),
                   ratio_to=("numpy grad",), note="hand-written R-operator")]
    i, h, o = size.hvp
    return Workload("hvp", f"Hessian-vector product of a tanh MLP {i}-{h}-{o} cross-entropy "
                    f"(batch {size.hvp_batch}, float64) w.r.t. the first weight, by double "
                    "backward", cases, check=check, skipped=skipped)


# -- conv ------------------------------------------------------------------------------
def _conv_rows(res: dict[str, Any]) -> list[Row]:
    """Rows from the dict returned by ``benchmarks.conv.run``: a ``rows`` list of Row-like
    dicts when present, else one row per numeric (or {median, ...}) entry."""
    known = set(Row.__dataclass_fields__)
    if isinstance(res.get("rows"), list):
        out = []
        for r in res["rows"]:
            d = {k: v for k, v in r.items() if k in known}
            d.setdefault("workload", "conv")
            d.setdefault("key", str(r.get("name", "conv")))
            d.setdefault("engine", "chaingrad")
            d.setdefault("unit", "")
            d.setdefault("median", float("nan"))
            out.append(Row(**d))
        return out
    out = []
    for k, v in res.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, dict)):
            continue
        if isinstance(v, dict):
            if "median" not in v:
                continue
            out.append(Row("conv", k, str(v.get("engine", k.split()[0])), str(v.get("unit", "")),
                           float(v["median"]), v.get("min"), v.get("max"),
                           target=str(v.get("target", "")), met=v.get("met")))
        else:
            out.append(Row("conv", k, "chaingrad", "", float(v)))
    if out and "met" in res and isinstance(res["met"], bool):
        out[-1].met = res["met"]
        out[-1].target = str(res.get("target", out[-1].target))
    return out


def conv(size: Size) -> Workload:
    """Conv2d 1->32, 3x3 on (64, 1, 28, 28): measured by ``benchmarks/conv.py`` itself."""
    definition = "Conv2d 1->32, 3x3, on (64,1,28,28) float32, forward+backward"
    if importlib.util.find_spec("benchmarks.conv") is None:
        return Workload("conv", definition, skipped=["benchmarks/conv.py not present"])
    raw: dict[str, Any] = {}

    def extras() -> list[Row]:
        mod = importlib.import_module("benchmarks.conv")
        raw.update(mod.run(quick=size is not SIZES["full"]))
        rows = _conv_rows(raw)
        if not rows:
            return [Row("conv", "result", "chaingrad", "", float("nan"),
                        note=json.dumps(raw, default=str)[:200])]
        return rows
    return Workload("conv", definition, extras=extras, info=raw)


# -- memory ----------------------------------------------------------------------------
def memory(size: Size) -> Workload:
    """Peak RSS growth over many mlp-train steps: flat means nothing accumulates."""
    marks = size.mem_marks
    scale = next(k for k, v in SIZES.items() if v is size)

    def extras() -> list[Row]:
        m = _run_probe("memory", scale)["marks"]
        rows = [Row("memory", f"chaingrad step {k}", "chaingrad", "MB", v["peak"],
                    note=f"peak RSS above the start; current {v['rss']:.1f} MB")
                for k, v in m.items()]
        first, last = str(marks[0]), str(marks[-1])
        growth = m[last]["peak"] - m[first]["peak"]
        flat = Target("<= 2 MB (flat)", max_value=2.0)
        rows.append(Row("memory", f"chaingrad growth {first}->{last}", "chaingrad", "MB",
                        growth, target=flat.text, met=flat.met(growth, {})))
        return rows
    return Workload("memory", f"peak RSS growth over {marks[-1]:,} training steps of "
                    "mlp-train (chaingrad, plain ops)", extras=extras)


WORKLOADS: dict[str, Callable[[Size], Workload]] = {
    "scalar-mlp": scalar_mlp,
    "tiny-ops": tiny_ops,
    "mlp-train": mlp_train,
    "deep-chain": deep_chain,
    "hvp": hvp,
    "conv": conv,
    "memory": memory,
}


def build(name: str, scale: str = "full") -> Workload:
    """The workload ``name`` at ``scale`` ("full", "quick" or "tiny")."""
    if name not in WORKLOADS:
        raise ValueError(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
    if scale not in SIZES:
        raise ValueError(f"unknown scale {scale!r}; choose from {', '.join(SIZES)}")
    return WORKLOADS[name](SIZES[scale])
