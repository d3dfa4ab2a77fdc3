"""Microseconds per op for a 1,000-op chain: Tensor (shape (8,), float32) and Value.

Run: ``python -m benchmarks.ops_chain``. Prints the median of several repeats for the
forward pass alone and for forward + backward, per op.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

import autograd as ag

N_OPS = 1000  # each step below is 4 ops: mul, add, tanh, sub


def tensor_chain(steps: int = N_OPS // 4) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    x = ag.Tensor(rng.standard_normal(8).astype(np.float32), requires_grad=True)
    w = ag.Tensor(rng.standard_normal(8).astype(np.float32), requires_grad=True)
    b = ag.Tensor(rng.standard_normal(8).astype(np.float32), requires_grad=True)
    t0 = time.perf_counter()
    y = x
    for _ in range(steps):
        y = (y * w + b).tanh() - 0.5
    t1 = time.perf_counter()
    y.sum().backward()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t0


def value_chain(steps: int = N_OPS // 4) -> tuple[float, float]:
    x, w, b = ag.Value(0.3), ag.Value(0.9), ag.Value(0.1)
    t0 = time.perf_counter()
    y = x
    for _ in range(steps):
        y = (y * w + b).tanh() - 0.5
    t1 = time.perf_counter()
    y.backward()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t0


def measure(fn, repeats: int = 30) -> tuple[float, float]:
    """Median microseconds per op: (forward, forward + backward)."""
    fn()  # warm up
    runs = [fn() for _ in range(repeats)]
    fwd = statistics.median(r[0] for r in runs) / N_OPS * 1e6
    both = statistics.median(r[1] for r in runs) / N_OPS * 1e6
    return fwd, both


def main(repeats: int = 30) -> dict[str, tuple[float, float]]:
    results = {"Tensor (8,) float32": measure(tensor_chain, repeats),
               "Value": measure(value_chain, repeats)}
    print(f"{'1,000-op chain':<22}{'forward µs/op':>16}{'fwd+bwd µs/op':>16}")
    for name, (fwd, both) in results.items():
        print(f"{name:<22}{fwd:>16.2f}{both:>16.2f}")
    return results


if __name__ == "__main__":
    main()
