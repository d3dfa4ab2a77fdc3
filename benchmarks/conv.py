"""Conv2d forward+backward against the bare numpy im2col + matmul work it needs.

Workload: ``nn.Conv2d(1, 32, 3)`` on a (64, 1, 28, 28) float32 batch, forward then
backward with a fixed upstream gradient, in two variants: the input does not need a
gradient (a first layer: weight and bias gradients only) and it does (input gradient too).

Baseline: the same arithmetic written directly in numpy, with nothing else: im2col of the
input, one batched matmul and a bias add forward; backward a batched matmul for the
weight gradient, a sum for the bias, and (second variant) a matmul plus col2im for the
input gradient. Both run in the same process, interleaved, and the ratio of medians is
reported.

``python -m benchmarks.conv [--quick] [--profile] [--threads N]`` prints the table;
``run(quick)`` returns the figures as a dict (``rows`` for the suite).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
SHAPE = (64, 1, 28, 28)
OUT_CHANNELS = 32
KERNEL = 3
TARGET = 1.5


def _numpy_conv(x: Any, w: Any, b: Any, gy: Any, input_grad: bool) -> Callable[[], Any]:
    """The bare numpy forward+backward of a stride-1, unpadded convolution."""
    import numpy as np
    from numpy.lib.stride_tricks import sliding_window_view

    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    ho, wo = h - kh + 1, wd - kw + 1
    wm = w.reshape(o, -1)
    g3 = gy.reshape(n, o, ho * wo)

    def step() -> Any:
        cols = (sliding_window_view(x, (kh, kw), axis=(2, 3))
                .transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, ho * wo))
        y = np.matmul(wm, cols)
        y += b[:, None]
        gw = np.matmul(g3, cols.transpose(0, 2, 1)).sum(axis=0)
        gb = np.einsum("nop->o", g3)
        if input_grad:
            dcols = np.matmul(wm.T, g3).reshape(n, c, kh, kw, ho, wo)
            gx = np.zeros_like(x)
            for i in range(kh):
                for j in range(kw):
                    gx[:, :, i:i + ho, j:j + wo] += dcols[:, :, i, j]
            return y, gw, gb, gx
        return y, gw, gb

    return step


def _chaingrad_conv(x: Any, layer: Any, gy: Any) -> Callable[[], Any]:
    def step() -> Any:
        layer.weight.grad = None
        layer.bias.grad = None
        x.grad = None
        y = layer(x)
        y.backward(gy)
        return y

    return step


def _check(x: Any, layer: Any, gy: Any) -> None:
    """Both implementations agree before anything is timed."""
    import numpy as np

    from autograd import Tensor

    xt = Tensor(x.copy(), requires_grad=True)
    _chaingrad_conv(xt, layer, Tensor(gy))()
    y, gw, gb, gx = _numpy_conv(x, layer.weight.data, layer.bias.data, gy, True)()
    for name, a, b in (("weight grad", layer.weight.grad.data, gw.reshape(layer.weight.shape)),
                       ("bias grad", layer.bias.grad.data, gb), ("input grad", xt.grad.data, gx)):
        if not np.allclose(a, b, rtol=1e-4, atol=1e-3):
            raise AssertionError(f"conv benchmark: chaingrad and numpy disagree on the {name} "
                                 f"(max abs diff {np.abs(a - b).max():.3g})")


def _sample(fn: Callable[[], Any], min_time: float) -> float:
    """Seconds per call, from enough back-to-back calls to last ``min_time``."""
    k = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(k):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time:
            return dt / k
        k *= 2


def run(quick: bool = False) -> dict:
    """Time both variants (interleaved repeats, medians) and return figures and rows."""
    import numpy as np

    from autograd import Tensor
    from nn import Conv2d

    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE).astype(np.float32)
    layer = Conv2d(SHAPE[1], OUT_CHANNELS, KERNEL, rng=0)
    ho, wo = SHAPE[2] - KERNEL + 1, SHAPE[3] - KERNEL + 1
    gy = rng.standard_normal((SHAPE[0], OUT_CHANNELS, ho, wo)).astype(np.float32)
    _check(x, layer, gy)
    w, b = layer.weight.data, layer.bias.data
    cases = {}
    for input_grad in (False, True):
        tag = "x.requires_grad" if input_grad else "x without grad"
        cases[("numpy", tag)] = _numpy_conv(x, w, b, gy, input_grad)
        cases[("chaingrad", tag)] = _chaingrad_conv(Tensor(x, requires_grad=input_grad),
                                                    layer, Tensor(gy))
    repeats, min_time = (11, 0.02) if quick else (41, 0.03)
    samples: dict[tuple[str, str], list[float]] = {k: [] for k in cases}
    keys = list(cases)
    for fn in cases.values():
        fn()
    for r in range(repeats):
        for k in keys[r % len(keys):] + keys[:r % len(keys)]:
            samples[k].append(_sample(cases[k], min_time))
    result: dict[str, Any] = {"shape": SHAPE, "out_channels": OUT_CHANNELS, "kernel": KERNEL,
                              "repeats": repeats, "threads": os.environ.get(
                                  "OPENBLAS_NUM_THREADS", "unpinned"), "rows": []}
    for input_grad in (False, True):
        tag = "x.requires_grad" if input_grad else "x without grad"
        med = {e: statistics.median(samples[(e, tag)]) for e in ("numpy", "chaingrad")}
        ratio = med["chaingrad"] / med["numpy"]
        result[f"ratio ({tag})"] = ratio
        for e in ("numpy", "chaingrad"):
            s = samples[(e, tag)]
            row = {"workload": "conv", "key": f"{e} fwd+bwd ({tag})", "engine": e,
                   "unit": "ms", "median": med[e] * 1e3, "lo": min(s) * 1e3,
                   "hi": max(s) * 1e3, "n": len(s)}
            if e == "chaingrad":
                row.update(ratios={"numpy": ratio}, target=f"<= {TARGET}x numpy",
                           met=ratio <= TARGET)
            result["rows"].append(row)
    result["met"] = all(result[f"ratio ({t})"] <= TARGET
                        for t in ("x without grad", "x.requires_grad"))
    return result


def _profile() -> None:
    import cProfile
    import pstats

    import numpy as np

    from autograd import Tensor
    from nn import Conv2d

    rng = np.random.default_rng(0)
    layer = Conv2d(SHAPE[1], OUT_CHANNELS, KERNEL, rng=0)
    x = Tensor(rng.standard_normal(SHAPE).astype(np.float32), requires_grad=True)
    gy = Tensor(rng.standard_normal((SHAPE[0], OUT_CHANNELS, 26, 26)).astype(np.float32))
    step = _chaingrad_conv(x, layer, gy)
    step()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(200):
        step()
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(15)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.conv", description=__doc__
                                .split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer and shorter repeats")
    p.add_argument("--profile", action="store_true", help="cProfile chaingrad's step instead")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    args = p.parse_args(argv)
    want = str(args.threads)
    if any(os.environ.get(v) != want for v in THREAD_VARS):
        os.environ.update({v: want for v in THREAD_VARS})
        os.execv(sys.executable, [sys.executable, "-m", "benchmarks.conv", *sys.argv[1:]])
    if args.profile:
        _profile()
        return 0
    res = run(quick=args.quick)
    print(f"Conv2d({SHAPE[1]}, {OUT_CHANNELS}, {KERNEL}) on {SHAPE} float32, forward+backward, "
          f"{res['repeats']} interleaved repeats, {want} BLAS thread(s)")
    print(f"{'case':42s} {'median ms':>10s} {'min-max ms':>16s} {'ratio':>7s}")
    for r in res["rows"]:
        ratio = r.get("ratios", {}).get("numpy")
        print(f"{r['key']:42s} {r['median']:10.3f} {r['lo']:7.3f}-{r['hi']:<8.3f} "
              f"{'' if ratio is None else f'{ratio:6.2f}x'}")
    print(f"target: chaingrad <= {TARGET}x bare numpy: {'met' if res['met'] else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
