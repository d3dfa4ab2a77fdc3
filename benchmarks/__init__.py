"""chaingrad's benchmark suite: ``python -m benchmarks`` (or ``make bench``).

Seven workloads (scalar-mlp, tiny-ops, mlp-train, deep-chain, hvp, conv, memory) run for
chaingrad and, in the same process, for the bare numpy work, PyTorch and micrograd when
those are importable. Cases are timed interleaved over several rounds; the table gives
medians, min–max, the share of time spent in the garbage collector, ratios to baselines
and whether each target is met, and the same goes to JSON. ``--profile`` cProfiles
chaingrad's cases instead. See ``python -m benchmarks --help``.

Importing this package imports nothing heavy, so ``__main__`` can pin the BLAS/OpenMP
thread counts before numpy or torch load.
"""
