"""Command line: ``python -m autograd gradcheck ...`` and ``python -m autograd graph ...``.

``gradcheck`` checks an op without writing a test::

    python -m autograd gradcheck mypkg.ops:cube --shapes 3x4,4 --second-order
    python -m autograd gradcheck mypkg/ops.py:Cube --domain positive      # random shapes

The target is ``module:attribute`` (or ``path/to/file.py:attribute``): a function of
Tensors, or a ``Function`` subclass (its ``apply`` is checked). With ``--shapes`` it runs
``gradcheck`` (and ``gradgradcheck`` with ``--second-order``) on ``--examples`` random
inputs of those shapes; without, it runs the property test ``autograd.testing.check_op``
over random shapes incl. broadcasting. Exit status 0 when the check passes, 1 when it
fails (the report says where), 2 for usage errors.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

USAGE_ERROR = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to a subcommand; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m autograd",
        description="chaingrad's autograd tools: check an op's gradients, draw a graph.")
    sub = parser.add_subparsers(dest="command", metavar="{gradcheck,graph}")
    _gradcheck_parser(sub)
    sub.add_parser("graph", help="draw the graph of an expression (see `graph --help`)",
                   add_help=False)
    if argv and argv[0] == "graph":
        return _graph(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "gradcheck":
        return _run_gradcheck(args)
    parser.print_help()
    return USAGE_ERROR


def _graph(argv: list[str]) -> int:
    try:
        from .viz import graph_main
    except ImportError as exc:
        print(f"python -m autograd graph: the graph command is not available ({exc}); it "
              "lives in autograd.viz.graph_main", file=sys.stderr)
        return USAGE_ERROR
    return int(graph_main(argv) or 0)


def _gradcheck_parser(sub: Any) -> None:
    p = sub.add_parser(
        "gradcheck", help="check an op's gradients against central differences",
        description="Check a function's (or a Function subclass's) analytic gradients "
                    "against central differences in float64.")
    p.add_argument("target", help="module:attribute or path/to/file.py:attribute")
    p.add_argument("--shapes", help="input shapes, e.g. 3x4,4 (use () or 'scalar' for a 0-d "
                                    "input); omit to draw random shapes incl. broadcasting")
    p.add_argument("--inputs", type=int, default=None,
                   help="number of inputs when --shapes is omitted (default: the function's "
                        "required positional parameters, or 1)")
    p.add_argument("--domain", default="real",
                   help="where values are drawn: real ([-3, 3]), positive, nonzero, or LO:HI "
                        "(write --domain=-1:1 for a negative bound)")
    p.add_argument("--avoid", default="",
                   help="comma-separated kink points to stay away from, e.g. 0 for relu")
    p.add_argument("--margin", type=float, default=0.1,
                   help="distance kept from --avoid points (default 0.1)")
    p.add_argument("--second-order", action="store_true", help="also run gradgradcheck")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--examples", type=int, default=None,
                   help="random examples (default 3 with --shapes, 20 without)")
    p.add_argument("--eps", type=float, default=1e-6)
    p.add_argument("--atol", type=float, default=1e-5)
    p.add_argument("--rtol", type=float, default=1e-3)


class UsageError(Exception):
    """A bad argument: reported on stderr with exit status 2."""


def parse_shapes(text: str) -> list[tuple[int, ...]]:
    """``"3x4,4,()"`` -> ``[(3, 4), (4,), ()]``."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if part in ("()", "scalar", ""):
            out.append(())
            continue
        try:
            dims = tuple(int(d) for d in part.lower().split("x"))
        except ValueError:
            raise UsageError(f"--shapes: cannot read {part!r}; write sizes joined by x, "
                             "e.g. 3x4, with shapes separated by commas") from None
        if any(d < 0 for d in dims):
            raise UsageError(f"--shapes: negative size in {part!r}")
        out.append(dims)
    return out


def parse_domain(text: str, avoid: str, margin: float) -> Any:
    """The Domain named on the command line (a name or ``LO:HI``), with kinks avoided."""
    from . import testing

    named = {"real": testing.real, "positive": testing.positive, "nonzero": testing.nonzero}
    if text in named:
        dom = named[text]
    elif ":" in text:
        lo, _, hi = text.partition(":")
        try:
            dom = testing.bounded(float(lo), float(hi))
        except ValueError as exc:
            raise UsageError(f"--domain {text!r}: {exc}") from None
    else:
        raise UsageError(f"--domain: unknown domain {text!r}; use real, positive, nonzero "
                         "or LO:HI")
    if avoid.strip():
        try:
            points = [float(p) for p in avoid.split(",")]
        except ValueError:
            raise UsageError(f"--avoid: cannot read {avoid!r}; give numbers separated by "
                             "commas") from None
        try:
            dom = dom & testing.away_from(*points, margin=margin, lo=dom.lo, hi=dom.hi)
        except ValueError as exc:
            raise UsageError(f"--avoid: {exc}") from None
    return dom


def load_target(spec: str) -> tuple[Callable[..., Any], Any]:
    """``module:attr`` or ``file.py:attr`` -> (the callable to check, the object named)."""
    from .function import Function

    mod_name, sep, attr = spec.rpartition(":")
    if not sep or not mod_name or not attr:
        raise UsageError(f"target {spec!r}: write module:attribute, e.g. mypkg.ops:cube")
    if mod_name.endswith(".py"):
        path = os.path.abspath(mod_name)
        if not os.path.exists(path):
            raise UsageError(f"target {spec!r}: no file {path}")
        name = os.path.splitext(os.path.basename(path))[0]
        loader_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module
        loader_spec.loader.exec_module(module)
    else:
        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            module = importlib.import_module(mod_name)
        except ImportError as exc:
            raise UsageError(f"target {spec!r}: cannot import {mod_name!r}: {exc}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            owner = getattr(obj, "__name__", repr(obj))
            raise UsageError(f"target {spec!r}: {owner} has no attribute {part!r}")
        obj = getattr(obj, part)
    if isinstance(obj, type) and issubclass(obj, Function):
        return obj.apply, obj
    if not callable(obj):
        raise UsageError(f"target {spec!r} is a {type(obj).__name__}, not a function or a "
                         "Function subclass")
    return obj, obj


def _required_positional(obj: Any) -> int | None:
    if isinstance(obj, type):
        return None
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in sig.parameters.values()
               if p.kind in kinds and p.default is inspect.Parameter.empty) or None


def _run_gradcheck(args: argparse.Namespace) -> int:
    try:
        fn, obj = load_target(args.target)
        domain = parse_domain(args.domain, args.avoid, args.margin)
        shapes = parse_shapes(args.shapes) if args.shapes is not None else None
    except UsageError as exc:
        print(f"python -m autograd gradcheck: {exc}", file=sys.stderr)
        return USAGE_ERROR
    orders = "first and second order" if args.second_order else "first order"
    if shapes is not None:
        return _check_fixed(fn, args, shapes, domain, orders)
    n = args.inputs or _required_positional(obj) or 1
    return _check_property(fn, args, n, domain, orders)


def _check_fixed(fn: Callable[..., Any], args: argparse.Namespace,
                 shapes: list[tuple[int, ...]], domain: Any, orders: str) -> int:
    from .gradcheck import GradcheckError, _problem, _run_check, gradgradcheck
    from .tensor import Tensor

    examples = args.examples or 3
    shown = ", ".join(str(s) for s in shapes)
    print(f"gradcheck {args.target}: shapes {shown}, domain {domain!r}, {orders}, "
          f"{examples} random inputs (seed {args.seed})")
    rng = np.random.default_rng(args.seed)
    worst_abs = worst_rel = 0.0
    for ex in range(examples):
        xs = [Tensor(domain.sample(rng, s), requires_grad=True, name=f"x{i}")
              for i, s in enumerate(shapes)]
        try:
            stats = _run_check(_problem(fn, xs, "gradcheck"), eps=args.eps, atol=args.atol,
                               rtol=args.rtol)
            worst_abs = max(worst_abs, stats.max_abs_error)
            worst_rel = max(worst_rel, stats.max_rel_error)
            if args.second_order:
                gradgradcheck(fn, xs, eps=args.eps, atol=args.atol, rtol=args.rtol,
                              seed=args.seed + ex)
        except GradcheckError as exc:
            print(f"example {ex + 1} of {examples}:")
            print(str(exc))
            print("FAIL")
            return 1
        except Exception as exc:  # noqa: BLE001 - report what the op raised, then fail
            print(f"example {ex + 1} of {examples}: the op raised {type(exc).__name__}: {exc}")
            print("FAIL")
            return 1
    print(f"  first order: max abs error {worst_abs:.3g}, max rel error {worst_rel:.3g} "
          f"(atol {args.atol:g}, rtol {args.rtol:g})")
    print("PASS")
    return 0


def _check_property(fn: Callable[..., Any], args: argparse.Namespace, n: int, domain: Any,
                    orders: str) -> int:
    from . import testing

    examples = args.examples or 20
    print(f"check_op {args.target}: {n} input(s), random shapes incl. broadcasting, domain "
          f"{domain!r}, {orders}, {examples} examples (seed {args.seed})")
    saved = os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY")
    with tempfile.TemporaryDirectory() as home:
        if saved is None:  # hypothesis caches files; keep them out of the user's directory
            os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = home
        try:
            testing.check_op(fn, n, domain=domain, second_order=args.second_order,
                             max_examples=examples, eps=args.eps, atol=args.atol,
                             rtol=args.rtol, seed=args.seed)
        except Exception as exc:  # noqa: BLE001 - any failure is the report
            print(f"{type(exc).__name__}: {exc}")
            for note in getattr(exc, "__notes__", ()):
                print(note)
            print("FAIL")
            return 1
        finally:
            if saved is None:
                os.environ.pop("HYPOTHESIS_STORAGE_DIRECTORY", None)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
