"""chaingrad's benchmark suite: ``python -m benchmarks`` (see ``benchmarks/__main__.py``).

Importing this package imports nothing heavy, so ``__main__`` can pin the BLAS/OpenMP
thread counts before numpy or torch load.
"""
