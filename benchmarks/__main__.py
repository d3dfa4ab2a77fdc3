"""``python -m benchmarks``: run the suite, print the table, write JSON.

BLAS/OpenMP thread counts are pinned (environment variables) before numpy or torch is
imported, so every engine computes with the same number of threads; if numpy was already
imported the process re-executes itself with the pinned environment.
"""

from __future__ import annotations

import argparse
import os
import sys

NAMES = ("scalar-mlp", "tiny-ops", "mlp-train", "deep-chain", "hvp", "conv", "memory")


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="chaingrad against bare numpy, PyTorch and micrograd: interleaved "
                    "repeats, medians, min-max, ratios and targets.")
    p.add_argument("--quick", action="store_true",
                   help="fewer repeats, shorter deep chain and memory run")
    p.add_argument("--only", nargs="+", metavar="NAME", choices=NAMES,
                   help=f"run only these workloads ({', '.join(NAMES)})")
    p.add_argument("--repeats", type=int, default=None,
                   help="samples per case (default 7, or 3 with --quick)")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS/OpenMP/torch threads for every engine (default 1)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall: elapsed time (default); cpu: this process's CPU time, steadier "
                        "when other processes load the machine (meaningful with --threads 1)")
    p.add_argument("--no-freeze", action="store_true",
                   help="leave the objects alive before timing (every engine's imports) in "
                        "the garbage collector's sight; by default gc.freeze() hides them so "
                        "each engine pays the collector only for its own objects")
    p.add_argument("--json", default="benchmarks/results.json", metavar="PATH",
                   help="where to write the results (default benchmarks/results.json; "
                        "'' to skip)")
    p.add_argument("--profile", action="store_true",
                   help="instead of timing, cProfile chaingrad's cases of the selected "
                        "workloads and print the top functions by own time")
    p.add_argument("--tiny", action="store_true",
                   help="tiny problem sizes: proves every workload runs, timings mean nothing")
    args = p.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        p.error(f"--repeats must be at least 1, got {args.repeats}")
    if args.threads < 1:
        p.error(f"--threads must be at least 1, got {args.threads}")
    return args


def _pin(threads: int) -> None:
    """Pin thread variables; re-exec when numpy/torch were imported before the pinning."""
    from .harness import THREAD_VARS, pin_threads

    want = str(threads)
    if all(os.environ.get(v) == want for v in THREAD_VARS):
        return
    loaded = [m for m in ("numpy", "torch") if m in sys.modules]
    pin_threads(threads)
    if loaded:
        os.execv(sys.executable, [sys.executable, "-m", "benchmarks", *sys.argv[1:]])


def _commit() -> str | None:
    """The checked-out commit of the working tree, when it is a git checkout."""
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10, cwd=os.path.dirname(__file__))
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    _pin(args.threads)

    import json
    import platform
    import time

    from .harness import (
        format_rows,
        load_warning,
        profile_case,
        result_json,
        run_workload,
        versions,
    )
    from .workloads import build

    scale = "tiny" if args.tiny else "quick" if args.quick else "full"
    repeats = args.repeats or (3 if scale != "full" else 7)
    names = list(dict.fromkeys(args.only)) if args.only else list(NAMES)
    vers = versions()
    print(f"chaingrad benchmarks: scale {scale}, {repeats} interleaved repeats, {args.clock} "
          f"clock, {args.threads} BLAS/OpenMP thread(s), {os.cpu_count()} CPUs, start-up "
          f"heap {'left to' if args.no_freeze else 'frozen for'} the garbage collector")
    print("  " + ", ".join(f"{k} {v}" for k, v in vers.items() if v))
    load_start = os.getloadavg()[0]
    warn = load_warning(args.threads)
    if warn:
        print(f"WARNING: {warn}" + ("; --clock cpu measures this process's CPU time only"
                                     if args.clock == "wall" else ""))

    if args.profile:
        for name in names:
            wl = build(name, scale)
            for case in wl.cases:
                if case.engine == "chaingrad":
                    print(f"\n=== {name} / {profile_case(case, freeze=not args.no_freeze)}")
        return 0

    def progress(msg: str) -> None:
        if sys.stdout.isatty():
            print(msg, end="\r", flush=True)

    results = {}
    errors = {}
    all_rows = []
    min_sample = 0.05 if scale == "full" else 0.02
    for name in names:
        print(f"\n[{name}]", flush=True)
        try:
            wl = build(name, scale)
            print(f"  {wl.definition}")
            res = run_workload(wl, repeats, min_sample, log=progress, clock=args.clock,
                               freeze=not args.no_freeze)
        except Exception as exc:  # one broken workload must not hide the others' results
            errors[name] = f"{type(exc).__name__}: {exc}"
            print(f"  ERROR {errors[name]}")
            continue
        results[name] = result_json(res)
        all_rows.extend(res.rows)
        print(format_rows(res.rows))
        for s in res.skipped:
            print(f"  skipped: {s}")
        if res.others_cpu is not None and res.others_cpu > 0.25:
            print(f"  WARNING: other processes used {res.others_cpu:.2f} CPUs on average "
                  "during this workload: timings are skewed")

    print("\n" + format_rows(all_rows))
    met = [r.met for r in all_rows if r.target]
    print(f"\ntargets met: {sum(m is True for m in met)} of {len(met)}"
          + (f"; errors in: {', '.join(errors)}" if errors else ""))
    if args.json:
        doc = {
            "meta": {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "scale": scale,
                "repeats": repeats,
                "threads": args.threads,
                "clock": args.clock,
                "gc_freeze": not args.no_freeze,
                "cpus": os.cpu_count(),
                "machine": platform.machine(),
                "loadavg_start_end": [load_start, os.getloadavg()[0]],
                "load_warning": warn,
                "versions": vers,
                "commit": _commit(),
            },
            "workloads": results,
            "errors": errors,
        }
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1, default=str)
        print(f"results written to {args.json}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
