"""Timing machinery of the benchmark suite: cases, interleaved repeats, statistics, tables.

A :class:`Workload` is a list of timed :class:`Case` s (one per engine and measure) plus
optional untimed measurements (memory). :func:`run_workload` sets every case up once,
warms it, then takes ``repeats`` samples of each case *interleaved* (case order rotated
every round), so slow drifts of the machine (thermal, other processes) hit every engine
alike. Each sample runs the step enough times to last at least ``min_sample`` seconds.
Results become :class:`Row` s: median, min–max, ratios to named baselines, and whether
the workload's target is met.
"""

from __future__ import annotations

import cProfile
import gc
import io
import math
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")

UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6, "us/op": 1e6, "ms/step": 1e3, "s/step": 1.0}


@dataclass
class Target:
    """A goal for one row: an upper bound on its value and/or on ratios to other rows.

    ``max_ratio`` maps a baseline key to the largest allowed ``value / baseline``.
    """

    text: str
    max_value: float | None = None
    max_ratio: dict[str, float] = field(default_factory=dict)

    def met(self, value: float, ratios: dict[str, float]) -> bool | None:
        """True/False when every bound can be judged, None when a baseline is missing."""
        ok = True
        if self.max_value is not None:
            ok = ok and value <= self.max_value
        for key, bound in self.max_ratio.items():
            if key not in ratios:
                return None
            ok = ok and ratios[key] <= bound
        return ok


@dataclass
class Case:
    """One timed measure of one engine: ``setup()`` builds the state and returns the step.

    The displayed value is ``seconds_per_call / per`` in ``unit`` (e.g. ``per`` = number of
    ops for a per-op time). ``ratio_to`` lists keys of cases this one is divided by.
    """

    key: str
    engine: str
    setup: Callable[[], Callable[[], Any]]
    unit: str = "ms"
    per: float = 1.0
    gc_enabled: bool = True
    ratio_to: tuple[str, ...] = ()
    target: Target | None = None
    note: str = ""


@dataclass
class Stats:
    """Per-call seconds of every sample of a case."""

    samples: list[float]
    inner: int

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


@dataclass
class Row:
    """One line of the results table (and of the JSON)."""

    workload: str
    key: str
    engine: str
    unit: str
    median: float
    lo: float | None = None
    hi: float | None = None
    n: int = 0
    ratios: dict[str, float] = field(default_factory=dict)
    target: str = ""
    met: bool | None = None
    note: str = ""
    gc_share: float | None = None  # fraction of the measured time spent in the collector
    gc_collections: list[float] | None = None  # collections per call, generations 0, 1, 2


@dataclass
class Workload:
    """A named benchmark: its timed cases and its untimed extra measurements.

    ``extras()`` runs after the timed rounds and returns rows of its own (memory figures,
    results of a module that measures itself). ``check()`` verifies, before any timing,
    that the chaingrad computation agrees with an independent one, so the suite never
    times a wrong result; it raises ``AssertionError`` naming the difference.
    """

    name: str
    definition: str
    cases: list[Case] = field(default_factory=list)
    extras: Callable[[], list[Row]] | None = None
    check: Callable[[], None] | None = None
    skipped: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class WorkloadResult:
    name: str
    definition: str
    rows: list[Row]
    seconds: float
    others_cpu: float | None
    skipped: list[str]
    samples: dict[str, list[float]]
    info: dict[str, Any]


# -- machine state ---------------------------------------------------------------------
def pin_threads(n: int) -> dict[str, str]:
    """Set every BLAS/OpenMP thread variable to ``n``; must run before numpy is imported."""
    for var in THREAD_VARS:
        os.environ[var] = str(n)
    return {var: os.environ[var] for var in THREAD_VARS}


def load_warning(threads: int) -> str | None:
    """A warning when the 1-minute load average says other processes are using the CPUs."""
    try:
        load1 = os.getloadavg()[0]
    except OSError:
        return None
    cpus = os.cpu_count() or 1
    if cpus - load1 < threads + 0.5:
        return (f"load average {load1:.2f} on {cpus} CPUs with {threads} benchmark thread(s): "
                "other processes are running; timings (multi-threaded BLAS above all) will be "
                "noisy")
    return None


class CpuMeter:
    """CPU time used by *other* processes while a workload runs (from /proc, Linux only).

    ``stop()`` returns the average number of CPUs the rest of the machine kept busy, or
    None where /proc is missing.
    """

    def __init__(self) -> None:
        self._start = self._read()

    @staticmethod
    def _read() -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat") as f:
                fields = [float(x) for x in f.readline().split()[1:]]
            with open("/proc/self/stat") as f:
                own = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        busy = sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0.0)
        mine = sum(float(x) for x in own[11:15])  # utime stime cutime cstime
        return busy, mine, time.perf_counter()

    def stop(self) -> float | None:
        end = self._read()
        if self._start is None or end is None:
            return None
        tick = os.sysconf("SC_CLK_TCK")
        wall = end[2] - self._start[2]
        if wall < 1.0:  # clock ticks are 10 ms: shorter spans say nothing
            return None
        others = (end[0] - self._start[0]) - (end[1] - self._start[1])
        return max(others, 0.0) / tick / wall


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB, from /proc/self/status."""
    cur = peak = float("nan")
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    cur = int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    peak = int(line.split()[1]) / 1024
    except OSError:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return cur, peak


# -- timing ----------------------------------------------------------------------------
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter,
                                          "cpu": time.process_time}


def _time_calls(step: Callable[[], Any], inner: int, gc_enabled: bool,
                clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds per call of ``inner`` back-to-back calls of ``step``, by ``clock``."""
    was = gc.isenabled()
    if not gc_enabled:
        gc.disable()
    try:
        t0 = clock()
        for _ in range(inner):
            step()
        t1 = clock()
    finally:
        if was:
            gc.enable()
    return (t1 - t0) / inner


def _calibrate(step: Callable[[], Any], gc_enabled: bool, min_sample: float) -> int:
    """Warm the step up and choose how many calls make one sample of >= ``min_sample`` s."""
    gc.collect()
    first = _time_calls(step, 1, gc_enabled)
    if first >= min_sample:
        return 1
    gc.collect()
    t = _time_calls(step, 1, gc_enabled)
    return max(1, math.ceil(min_sample / max(t, 1e-9)))


class GcMeter:
    """Time spent in the garbage collector, and its collections per generation, charged
    to whichever case is running (``current``); installed as a ``gc.callbacks`` hook."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.current: str | None = None
        self.seconds: dict[str, float] = {}
        self.collections: dict[str, list[int]] = {}
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if self.current is None:
            return
        if phase == "start":
            self._t0 = self.clock()
            return
        key = self.current
        self.seconds[key] = self.seconds.get(key, 0.0) + self.clock() - self._t0
        self.collections.setdefault(key, [0, 0, 0])[info["generation"]] += 1

    def __enter__(self) -> GcMeter:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def run_workload(wl: Workload, repeats: int, min_sample: float = 0.05,
                 log: Callable[[str], None] | None = None, clock: str = "wall",
                 freeze: bool = True) -> WorkloadResult:
    """Check, set up, warm and time every case of ``wl`` interleaved; build its rows.

    ``clock`` is ``"wall"`` (elapsed time) or ``"cpu"`` (this process's CPU time: on a
    machine other processes load, a steadier estimate of single-threaded run time).
    With ``freeze`` the objects alive before timing (every engine's imported modules and
    its set-up state) are moved out of the collector's sight with ``gc.freeze()``, so the
    garbage collector's cost charged to an engine is that of its own per-step objects,
    not of another engine's import (torch alone brings ~150,000 objects).
    """
    if clock not in CLOCKS:
        raise ValueError(f"unknown clock {clock!r}; choose from {', '.join(CLOCKS)}")
    tick = CLOCKS[clock]
    log = log or (lambda s: None)
    meter = CpuMeter()
    t_start = time.perf_counter()
    if wl.check is not None:
        wl.check()
    steps: dict[str, Callable[[], Any]] = {}
    inner: dict[str, int] = {}
    for case in wl.cases:
        steps[case.key] = case.setup()
        inner[case.key] = _calibrate(steps[case.key], case.gc_enabled, min_sample)
    samples: dict[str, list[float]] = {c.key: [] for c in wl.cases}
    n = len(wl.cases)
    gc.collect()
    if freeze:
        gc.freeze()
    try:
        with GcMeter(tick) as gcm:
            for r in range(repeats):
                for i in range(n):
                    case = wl.cases[(i + r) % n]
                    gc.collect()
                    gcm.current = case.key
                    samples[case.key].append(_time_calls(steps[case.key], inner[case.key],
                                                         case.gc_enabled, tick))
                    gcm.current = None
                if n:
                    log(f"  {wl.name}: round {r + 1}/{repeats}")
    finally:
        if freeze:
            gc.unfreeze()
    steps.clear()
    gc.collect()
    stats = {k: Stats(v, inner[k]) for k, v in samples.items()}
    rows = [_row(wl.name, c, stats) for c in wl.cases]
    for row in rows:
        calls = stats[row.key].inner * len(stats[row.key].samples)
        total = sum(samples[row.key]) * stats[row.key].inner
        row.gc_share = gcm.seconds.get(row.key, 0.0) / total if total > 0 else 0.0
        row.gc_collections = [c / calls for c in gcm.collections.get(row.key, [0, 0, 0])]
    if wl.extras is not None:
        rows.extend(wl.extras())
    seconds = time.perf_counter() - t_start
    return WorkloadResult(wl.name, wl.definition, rows, seconds, meter.stop(), wl.skipped,
                          samples, wl.info)


def _row(name: str, case: Case, stats: dict[str, Stats]) -> Row:
    st = stats[case.key]
    scale = UNITS[case.unit] / case.per
    med = st.median
    ratios = {k: med / stats[k].median for k in case.ratio_to if k in stats}
    met = case.target.met(med * scale, ratios) if case.target else None
    return Row(workload=name, key=case.key, engine=case.engine, unit=case.unit,
               median=med * scale, lo=min(st.samples) * scale, hi=max(st.samples) * scale,
               n=len(st.samples), ratios=ratios,
               target=case.target.text if case.target else "", met=met, note=case.note)


def profile_case(case: Case, seconds: float = 1.0, top: int = 25, freeze: bool = True) -> str:
    """Profile about ``seconds`` worth of calls of a case's step: first unprofiled, for the
    time per call and the garbage collector's share, then under cProfile, for the top
    functions by own time (``tottime``). Returns the report as text."""
    step = case.setup()
    gc.collect()
    calls = max(1, round(seconds / max(_time_calls(step, 1, case.gc_enabled), 1e-9)))
    gc.collect()
    if freeze:
        gc.freeze()
    out = io.StringIO()
    try:
        with GcMeter(time.perf_counter) as gcm:
            gcm.current = case.key
            per_call = _time_calls(step, calls, case.gc_enabled)
            gcm.current = None
        gcs = gcm.seconds.get(case.key, 0.0) / (per_call * calls)
        cols = [c / calls for c in gcm.collections.get(case.key, [0, 0, 0])]
        out.write(f"{case.key}: {calls} call(s), {per_call * 1e3:.3f} ms per call unprofiled, "
                  f"gc {'on' if case.gc_enabled else 'off'}: {100 * gcs:.0f}% of the time in "
                  f"the collector, {cols[0]:.1f}/{cols[1]:.2f}/{cols[2]:.3f} collections of "
                  "generation 0/1/2 per call\n")
        prof = cProfile.Profile()
        gc.collect()
        was = gc.isenabled()
        if not case.gc_enabled:
            gc.disable()
        try:
            prof.enable()
            for _ in range(calls):
                step()
            prof.disable()
        finally:
            if was:
                gc.enable()
    finally:
        if freeze:
            gc.unfreeze()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


# -- output ----------------------------------------------------------------------------
def _fmt(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    a = abs(x)
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    if a >= 0.01:
        return f"{x:.3f}"
    return f"{x:.2g}"


def format_rows(rows: list[Row]) -> str:
    """A fixed-width table: workload, measure, median, min–max, unit, share of the time
    spent in the garbage collector, ratios, target, met?"""
    header = ("workload", "engine / measure", "median", "min-max", "unit", "gc%", "ratio",
              "target", "met?")
    lines = []
    for r in rows:
        rng = "-" if r.lo is None else f"{_fmt(r.lo)}-{_fmt(r.hi)}"
        ratio = ", ".join(f"{v:.2f}x {k}" for k, v in r.ratios.items()) or "-"
        met = {True: "yes", False: "NO", None: "-" if not r.target else "n/a"}[r.met]
        gcs = "-" if r.gc_share is None else f"{100 * r.gc_share:.0f}"
        lines.append((r.workload, r.key, _fmt(r.median), rng, r.unit, gcs, ratio,
                      r.target or "-", met))
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
              for i, h in enumerate(header)]
    out = ["  ".join(h.ljust(w) for h, w in zip(header, widths)),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    return "\n".join(out)


def result_json(res: WorkloadResult) -> dict[str, Any]:
    """The JSON-able form of a workload's result (rows and raw per-call samples)."""
    return {
        "definition": res.definition,
        "seconds": round(res.seconds, 3),
        "others_cpu": None if res.others_cpu is None else round(res.others_cpu, 3),
        "skipped": res.skipped,
        "rows": [asdict(r) for r in res.rows],
        "samples_seconds_per_call": res.samples,
        "info": res.info,
    }


def versions() -> dict[str, str | None]:
    """Versions of Python and of every engine that is importable (None when absent)."""
    import importlib.metadata as md

    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for dist in ("numpy", "torch", "micrograd", "chaingrad"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            out[dist] = None
    return out
