"""Property testing for ops: hypothesis strategies and the one-call ``check_op``.

``check_op(fn, n_inputs)`` draws random shapes (broadcast-compatible ones for several
inputs), float64 values inside the op's domain, and checks for each example that the
forward is finite (and matches a numpy reference when one is given), that the output
has the broadcast shape for elementwise ops, that ``gradcheck`` and ``gradgradcheck``
pass, and that float32 inputs get float32 gradients of their own shape::

    from autograd import testing
    testing.check_op(Cube.apply)                                    # one input, any shape
    testing.check_op(lambda a, b: a * b, 2, elementwise=True)       # broadcasting
    testing.check_op(autograd.log, domain=testing.positive)
    testing.check_op(autograd.relu, domain=testing.away_from(0.0))  # avoid the kink

Domains (:class:`Domain`) say where values are drawn: ``real`` ([-3, 3]), ``positive``,
``bounded(lo, hi)``, ``away_from(*points)`` (kinks), combined with ``&``. They need only
numpy; the strategies and ``check_op`` import hypothesis when called.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .gradcheck import gradcheck, gradgradcheck
from .tensor import Tensor
from .tensor import grad as _grad
from .value import Value

__all__ = [
    "Domain", "real", "positive", "nonzero", "bounded", "away_from", "shapes",
    "broadcastable_shapes", "tensors", "axes", "elements", "check_op", "check_value_op",
]


def _hypothesis() -> Any:
    try:
        import hypothesis
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("autograd.testing's strategies need hypothesis: pip install "
                          "hypothesis (or chaingrad[test])") from None
    return hypothesis


# -- domains ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Domain:
    """Values in ``[lo, hi]`` at least ``margin`` away from each point of ``avoid``.

    ``avoid`` holds the op's non-differentiable points (0 for relu/abs, the bounds of a
    clip), where a gradient check would compare a convention with a one-sided slope.
    """

    lo: float = -3.0
    hi: float = 3.0
    avoid: tuple[float, ...] = ()
    margin: float = 0.1
    name: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lo) and math.isfinite(self.hi) and self.lo < self.hi):
            raise ValueError(f"Domain: need finite lo < hi, got [{self.lo}, {self.hi}]")
        if self.margin < 0:
            raise ValueError(f"Domain: margin must be >= 0, got {self.margin}")
        if not self._grid(1e-3).size:
            raise ValueError(f"Domain: no value of [{self.lo}, {self.hi}] is {self.margin} "
                             f"away from {self.avoid}")

    def __repr__(self) -> str:
        if self.name:
            return self.name
        s = f"bounded({self.lo:g}, {self.hi:g})"
        if self.avoid:
            s += f" away from {', '.join(f'{p:g}' for p in self.avoid)} by {self.margin:g}"
        return s

    def __and__(self, other: Domain) -> Domain:
        """The intersection: both ranges, all points avoided, the larger margin."""
        return Domain(max(self.lo, other.lo), min(self.hi, other.hi),
                      tuple(sorted(set(self.avoid) | set(other.avoid))),
                      max(self.margin, other.margin))

    def contains(self, x: Any) -> np.ndarray:
        """Elementwise: inside ``[lo, hi]`` and far enough from every avoided point."""
        x = np.asarray(x, dtype=np.float64)
        ok = (x >= self.lo) & (x <= self.hi)
        for p in self.avoid:
            ok &= np.abs(x - p) >= self.margin
        return ok

    def _push(self, x: float) -> float:
        for p in self.avoid:
            if abs(x - p) < self.margin:
                x = p + self.margin if x >= p else p - self.margin
        return x

    def _grid(self, step: float, offset: float = 0.0) -> np.ndarray:
        k = np.arange(math.ceil((self.lo - offset) / step), math.floor((self.hi - offset) / step)
                      + 1)
        pts = k * step + offset
        return pts[self.contains(pts)]

    def sample(self, rng: np.random.Generator, shape: tuple[int, ...] = ()) -> np.ndarray:
        """Uniform float64 samples (numpy only, no hypothesis): for scripts and the CLI."""
        out = rng.uniform(self.lo, self.hi, size=shape)
        bad = ~self.contains(out)
        while bad.any():
            out[bad] = rng.uniform(self.lo, self.hi, size=int(bad.sum()))
            bad = ~self.contains(out)
        return out

    def strategy(self) -> Any:
        """A hypothesis strategy of floats inside the domain."""
        st = _hypothesis().strategies
        return (st.floats(self.lo, self.hi, allow_nan=False, allow_infinity=False,
                          allow_subnormal=False)
                .map(self._push).filter(lambda v: bool(self.contains(v))))

    def distinct_strategy(self, step: float, offset: float = 0.0) -> Any:
        """Floats from the grid ``offset + k * step`` inside the domain: with
        ``unique=True`` arrays, values differ by at least ``step`` (no ties)."""
        st = _hypothesis().strategies
        return st.sampled_from(self._grid(step, offset).tolist())


real = Domain(-3.0, 3.0, name="real")
positive = Domain(0.2, 4.0, name="positive")
nonzero = Domain(-3.0, 3.0, (0.0,), 0.2, name="nonzero")


def bounded(lo: float, hi: float) -> Domain:
    """Values in ``[lo, hi]``."""
    return Domain(float(lo), float(hi))


def away_from(*points: float, margin: float = 0.1, lo: float = -3.0,
              hi: float = 3.0) -> Domain:
    """Values in ``[lo, hi]`` at least ``margin`` from each of ``points`` (kinks)."""
    return Domain(float(lo), float(hi), tuple(float(p) for p in points), float(margin))


# -- strategies ------------------------------------------------------------------------------
def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> Any:
    """Array shapes, e.g. ``()``, ``(3,)``, ``(2, 1, 4)``."""
    _hypothesis()
    from hypothesis.extra import numpy as hnp

    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(n: int, min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
                         max_side: int = 4) -> Any:
    """Tuples of ``n`` shapes that broadcast together (sides of 1, missing leading axes)."""
    _hypothesis()
    from hypothesis.extra import numpy as hnp

    return hnp.mutually_broadcastable_shapes(
        num_shapes=n, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side).map(lambda b: tuple(b.input_shapes))


def elements(domain: Domain | Any = None) -> Any:
    """Floats inside ``domain`` (a Domain, or a hypothesis strategy passed through)."""
    if domain is None:
        return real.strategy()
    if isinstance(domain, Domain):
        return domain.strategy()
    return domain


def tensors(shape: Any = None, dtype: Any = np.float64, elements: Any = None,
            requires_grad: bool = True, distinct: bool = False) -> Any:
    """Tensors of ``shape`` (a tuple, a strategy of shapes, or None for random shapes)
    with values from ``elements`` (a Domain or a float strategy; ``real`` by default).
    ``distinct=True`` draws pairwise different values (no ties for max/min/sort)."""
    h = _hypothesis()
    from hypothesis.extra import numpy as hnp

    st = h.strategies
    dom = real if elements is None else elements
    if distinct:
        if not isinstance(dom, Domain):
            raise TypeError("tensors(distinct=True) needs a Domain for elements")
        elem = dom.distinct_strategy(1 / 64)
    else:
        elem = dom.strategy() if isinstance(dom, Domain) else dom
    shape_st = shapes() if shape is None else (shape if hasattr(shape, "example")
                                               else st.just(tuple(shape)))
    return hnp.arrays(np.float64, shape_st, elements=elem, unique=distinct).map(
        lambda a: Tensor(a.astype(dtype), requires_grad=requires_grad))


def axes(ndim: int, allow_none: bool = True, allow_tuple: bool = True) -> Any:
    """``axis=`` arguments valid for ``ndim`` dimensions: None, an int (negative too) or
    a tuple of distinct ints."""
    st = _hypothesis().strategies
    options = [st.none()] if allow_none or ndim == 0 else []
    if ndim:
        options.append(st.integers(-ndim, ndim - 1))
        if allow_tuple:
            options.append(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim,
                                    unique=True).flatmap(
                lambda ax: st.tuples(*[st.sampled_from([a, a - ndim]) for a in ax])))
    return st.one_of(options)


# -- the one-call property test ------------------------------------------------------------------
def check_op(
    fn: Callable[..., Any],
    n_inputs: int = 1,
    *,
    domain: Domain | Sequence[Domain] = real,
    shapes: Any = None,
    params: Any = None,
    broadcast: bool = True,
    elementwise: bool = False,
    reference: Callable[..., Any] | None = None,
    distinct: bool = False,
    second_order: bool = True,
    check_float32: bool = True,
    max_examples: int = 20,
    min_dims: int = 0,
    max_dims: int = 3,
    max_side: int = 4,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int | None = None,
    shrink: bool = True,
) -> None:
    """Property-test an op ``fn(*tensors, **params)`` over random shapes and values.

    For every example: the forward is finite (and equals ``reference(*arrays,
    **params)``, a numpy implementation, when given); with ``elementwise=True`` the output
    has the inputs' broadcast shape; ``gradcheck`` and (with ``second_order``)
    ``gradgradcheck`` pass in float64; float32 inputs get float32 gradients of their own
    shape. Raises the first failure, shrunk by hypothesis to a small example.

    - ``shapes``: a strategy of ``n_inputs``-tuples of shapes, or one fixed tuple of
      shapes; by default random shapes that broadcast together (``broadcast=True``) or
      one shared random shape.
    - ``params``: keyword arguments for ``fn``: a dict, a strategy of dicts, or a
      function of the drawn shapes returning a strategy of dicts (e.g. axes).
    - ``domain``: one Domain for all inputs, or one per input.
    - ``distinct``: draw values that are pairwise different across all inputs (for ops
      whose gradient has a kink at ties: max, min, maximum, minimum).
    - ``seed``: a fixed hypothesis seed (reproducible examples; no example database is
      kept, since every op shares this one test function); ``shrink=False`` reports the
      first failing example as found, without searching for a smaller one.
    """
    h = _hypothesis()
    from hypothesis.extra import numpy as hnp

    st = h.strategies
    if n_inputs < 1:
        raise ValueError(f"check_op: n_inputs must be >= 1, got {n_inputs}")
    domains = list(domain) if isinstance(domain, (list, tuple)) else [domain] * n_inputs
    if len(domains) != n_inputs:
        raise ValueError(f"check_op: {len(domains)} domains for {n_inputs} inputs")
    shape_st = _shape_strategy(shapes, n_inputs, broadcast, min_dims, max_dims, max_side)
    step = 1 / 32
    if distinct:
        elems = [d.distinct_strategy(step, step * i / (n_inputs + 1))
                 for i, d in enumerate(domains)]
    else:
        elems = [d.strategy() for d in domains]

    def run(data: Any) -> None:
        shps = data.draw(shape_st, label="shapes")
        if len(shps) != n_inputs:
            raise ValueError(f"check_op: the shapes strategy gave {len(shps)} shapes for "
                             f"{n_inputs} inputs")
        kwargs = data.draw(_params_strategy(params, shps, st), label="params")
        arrays = [data.draw(hnp.arrays(np.float64, s, elements=e, unique=distinct),
                            label=f"x{i}") for i, (s, e) in enumerate(zip(shps, elems))]
        _check_example(fn, arrays, kwargs, elementwise=elementwise, reference=reference,
                       second_order=second_order, check_float32=check_float32,
                       eps=eps, atol=atol, rtol=rtol)

    test = h.settings(
        max_examples=max_examples, deadline=None, phases=_phases(h, shrink),
        report_multiple_bugs=False, database=None,
        suppress_health_check=[h.HealthCheck.too_slow, h.HealthCheck.filter_too_much,
                               h.HealthCheck.data_too_large],
    )(h.given(st.data())(run))
    if seed is not None:
        test = h.seed(seed)(test)
    test()


def _phases(h: Any, shrink: bool) -> list:
    """Hypothesis phases: no "explain" (its line listing points into gradcheck, not the
    op), and no shrinking when a quick answer is wanted."""
    skip = {h.Phase.explain} | (set() if shrink else {h.Phase.shrink})
    return [p for p in h.Phase if p not in skip]


def _shape_strategy(shapes_arg: Any, n: int, broadcast: bool, min_dims: int, max_dims: int,
                    max_side: int) -> Any:
    st = _hypothesis().strategies
    if shapes_arg is None:
        if n > 1 and broadcast:
            return broadcastable_shapes(n, min_dims, max_dims, 1, max_side)
        return shapes(min_dims, max_dims, 1, max_side).map(lambda s: (s,) * n)
    if hasattr(shapes_arg, "example"):  # a strategy
        return shapes_arg
    fixed = tuple(tuple(int(v) for v in s) for s in shapes_arg)
    return st.just(fixed)


def _params_strategy(params: Any, shps: tuple, st: Any) -> Any:
    if params is None:
        return st.just({})
    if isinstance(params, dict):
        return st.just(dict(params))
    if hasattr(params, "example"):
        return params
    return params(shps)


def _outputs(out: Any) -> list[Tensor]:
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"check_op: output {i} is a {type(o).__name__}, not a Tensor")
    return outs


def _check_example(fn: Callable[..., Any], arrays: list[np.ndarray], kwargs: dict, *,
                   elementwise: bool, reference: Callable[..., Any] | None,
                   second_order: bool, check_float32: bool, eps: float, atol: float,
                   rtol: float) -> None:
    """All the properties for one drawn example (float64 arrays)."""
    shps = [a.shape for a in arrays]
    where = f"input shapes {shps}" + (f", params {kwargs}" if kwargs else "")
    xs = [Tensor(a.copy(), requires_grad=True, name=f"x{i}") for i, a in enumerate(arrays)]
    outs = _outputs(fn(*xs, **kwargs))
    for i, o in enumerate(outs):
        if o.dtype != np.float64:
            raise AssertionError(f"check_op: output {i} has dtype {o.dtype} for float64 "
                                 f"inputs ({where}); ops must keep the input dtype")
        if not np.isfinite(o.data).all():
            raise AssertionError(f"check_op: output {i} is not finite ({where}): "
                                 f"{o.data!r}")
    if elementwise:
        want = np.broadcast_shapes(*shps)
        if outs[0].shape != want:
            raise AssertionError(f"check_op: elementwise output has shape {outs[0].shape}, "
                                 f"expected the broadcast shape {want} ({where})")
    if reference is not None:
        ref = reference(*[a.copy() for a in arrays], **kwargs)
        refs = list(ref) if isinstance(ref, (tuple, list)) else [ref]
        if len(refs) != len(outs):
            raise AssertionError(f"check_op: the reference gave {len(refs)} outputs, the op "
                                 f"{len(outs)} ({where})")
        for i, (o, r) in enumerate(zip(outs, refs)):
            np.testing.assert_allclose(o.data, np.asarray(r), rtol=1e-7, atol=1e-10,
                                       err_msg=f"check_op: output {i} differs from the "
                                               f"reference ({where})")

    def call(*ts: Tensor) -> Any:
        return fn(*ts, **kwargs)

    gradcheck(call, xs, eps=eps, atol=atol, rtol=rtol)
    if second_order:
        gradgradcheck(call, xs, eps=eps, atol=atol, rtol=rtol)
    if check_float32:
        _check_float32(call, arrays, where)


def _check_float32(call: Callable[..., Any], arrays: list[np.ndarray], where: str) -> None:
    xs = [Tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    outs = [o for o in _outputs(call(*xs)) if o.requires_grad]
    for i, o in enumerate(outs):
        if o.dtype != np.float32:
            raise AssertionError(f"check_op: output {i} has dtype {o.dtype} for float32 "
                                 f"inputs ({where}); ops must keep the input dtype")
    if not outs:
        return
    gs = _grad(outs, xs, grad_outputs=[Tensor(np.ones(o.shape, np.float32)) for o in outs],
               allow_unused=True)
    for i, (g, x) in enumerate(zip(gs, xs)):
        if g is not None and (g.dtype != np.float32 or g.shape != x.shape):
            raise AssertionError(f"check_op: the gradient of float32 input {i} (shape "
                                 f"{x.shape}) has dtype {g.dtype} and shape {g.shape} "
                                 f"({where}); it must have the input's dtype and shape")


def check_value_op(
    fn: Callable[..., Any],
    n_inputs: int = 1,
    *,
    domain: Domain | Sequence[Domain] = real,
    reference: Callable[..., float] | None = None,
    max_examples: int = 20,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int | None = None,
    shrink: bool = True,
) -> None:
    """Property-test a function of scalar ``Value`` objects: the result is a finite
    Value (equal to ``reference(*floats)`` when given) and ``gradcheck`` passes."""
    h = _hypothesis()
    st = h.strategies
    domains = list(domain) if isinstance(domain, (list, tuple)) else [domain] * n_inputs
    if len(domains) != n_inputs:
        raise ValueError(f"check_value_op: {len(domains)} domains for {n_inputs} inputs")

    def run(xs: tuple[float, ...]) -> None:
        vals = [Value(x, label=f"x{i}") for i, x in enumerate(xs)]
        out = fn(*vals)
        if not isinstance(out, Value):
            raise TypeError(f"check_value_op: fn returned a {type(out).__name__}, not a Value")
        if not math.isfinite(out.data):
            raise AssertionError(f"check_value_op: output {out.data} is not finite at {xs}")
        if reference is not None:
            want = float(reference(*xs))
            if not math.isclose(out.data, want, rel_tol=1e-9, abs_tol=1e-12):
                raise AssertionError(f"check_value_op: output {out.data!r} differs from the "
                                     f"reference {want!r} at {xs}")
        gradcheck(fn, [Value(x) for x in xs], eps=eps, atol=atol, rtol=rtol)

    test = h.settings(max_examples=max_examples, deadline=None, phases=_phases(h, shrink),
                      report_multiple_bugs=False, database=None,
                      suppress_health_check=[h.HealthCheck.filter_too_much])(
        h.given(st.tuples(*[d.strategy() for d in domains]))(run))
    if seed is not None:
        test = h.seed(seed)(test)
    test()
