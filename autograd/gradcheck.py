"""Gradient checking: analytic Jacobians against central differences, in float64.

``gradcheck`` builds the full Jacobian of every output with respect to every input that
requires grad twice: once from the engine (one backward pass per output element, seeded
with a unit vector) and once by central differences on float64 copies of the inputs. On a
mismatch it raises :class:`GradcheckError`, whose message says which input, which output
and which element are wrong, by how much, shows small Jacobians side by side, and tells a
non-differentiable point (a kink of relu/abs/max) apart from a wrong gradient.

``gradgradcheck`` applies the same check to the function that returns the first
gradients (built with ``create_graph=True``), so it checks second derivatives.

Both work for ``Tensor`` functions and for functions of scalar ``Value`` objects
(first order only: a Value's gradient is a plain float).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .engine import enable_grad, no_grad, topological_order
from .tensor import Tensor
from .tensor import grad as _grad
from .value import Value

_TABLE_MAX = 6  # Jacobians up to this many rows and columns are printed in full


class GradcheckError(RuntimeError):
    """Raised when analytic and numeric derivatives disagree.

    Fields (``None`` where they do not apply):

    - ``kind``: ``"mismatch"`` (wrong derivative), ``"kink"`` (the point is not
      differentiable), ``"nonlinear"`` (the backward is not linear in its incoming
      gradient), ``"nonfinite"`` (the forward gives NaN/inf at the point),
      ``"nondeterministic"`` (two calls with the same inputs differ), ``"shape"``;
    - ``order``: 1 for ``gradcheck``, 2 for ``gradgradcheck``;
    - ``input_index``, ``input_name``, ``output_index``: which block of the Jacobian;
    - ``input_element``, ``output_element``: the worst entry, as index tuples;
    - ``analytic``, ``numeric``: the worst entry's values; ``left``, ``right``: the
      one-sided differences there; ``max_abs_error``, ``max_rel_error``;
    - ``analytic_jacobian``, ``numeric_jacobian``: that block, shape
      ``(output.size, input.size)``;
    - ``inputs``: the float64 inputs the check used; ``fn``: the function checked (for
      ``gradgradcheck``, the function returning the first gradients).

    ``draw(**kw)`` re-runs the function and draws its graph with the offending input
    highlighted.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        order: int,
        fn: Callable[..., Any] | None = None,
        inputs: Sequence[Any] = (),
        input_index: int | None = None,
        input_name: str | None = None,
        output_index: int | None = None,
        input_element: tuple[int, ...] | None = None,
        output_element: tuple[int, ...] | None = None,
        analytic: float | None = None,
        numeric: float | None = None,
        left: float | None = None,
        right: float | None = None,
        max_abs_error: float | None = None,
        max_rel_error: float | None = None,
        analytic_jacobian: np.ndarray | None = None,
        numeric_jacobian: np.ndarray | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.order = order
        self.fn = fn
        self.inputs = tuple(inputs)
        self.input_index = input_index
        self.input_name = input_name
        self.output_index = output_index
        self.input_element = input_element
        self.output_element = output_element
        self.analytic = analytic
        self.numeric = numeric
        self.left = left
        self.right = right
        self.max_abs_error = max_abs_error
        self.max_rel_error = max_rel_error
        self.analytic_jacobian = analytic_jacobian
        self.numeric_jacobian = numeric_jacobian

    def draw(self, **kw: Any) -> Any:
        """Re-run the function on the checked inputs and return
        ``autograd.draw_graph(outputs, highlight=[offending input, ops], **kw)``, where the
        ops are those that take the offending input directly (its gradient leaves the graph
        through their backward). For a
        ``gradgradcheck`` failure this is the graph of the first gradients (built with
        ``create_graph=True``): an input missing from it was detached by the backward."""
        import autograd

        if self.fn is None:
            raise RuntimeError("this GradcheckError carries no function to re-run")
        args = [_fresh(a) for a in self.inputs]
        with enable_grad():
            outs = self.fn(*args)
        outs = tuple(outs) if isinstance(outs, (tuple, list)) else (outs,)
        highlight: list[Any] = []
        if self.input_index is not None:
            x = args[self.input_index]
            highlight.append(x)
            roots = [o.grad_fn for o in outs if isinstance(o, Tensor) and o.grad_fn is not None]
            for v in topological_order(roots):
                if any(i is x for i in getattr(v, "inputs", ())):
                    highlight.append(v)
        return autograd.draw_graph(*outs, highlight=highlight, **kw)


def _fresh(a: Any) -> Any:
    """A new leaf with the same data and requires_grad (a new graph for re-running)."""
    if isinstance(a, Tensor):
        return Tensor(a.data.copy(), requires_grad=a.requires_grad, name=a.name)
    if isinstance(a, Value):
        return Value(a.data, label=a.label)
    return a


# -- problems: what is differentiated, evaluated and how ---------------------------------
class _TensorProblem:
    """A function of Tensors, with float64 copies of its inputs."""

    order_limit = 2

    def __init__(self, fn: Callable[..., Any], inputs: Sequence[Any]) -> None:
        self.fn = fn
        self.args: list[Any] = []
        for a in inputs:
            if isinstance(a, Tensor) and a.dtype.kind == "f":
                a = Tensor(np.array(a.data, dtype=np.float64), requires_grad=a.requires_grad,
                           name=a.name)
            self.args.append(a)
        self.diff = [i for i, a in enumerate(self.args)
                     if isinstance(a, Tensor) and a.requires_grad]
        self.base = [self.args[i].data for i in self.diff]
        self.names = [self.args[i].name for i in self.diff]

    def call(self, arrays: Sequence[np.ndarray], requires_grad: bool) -> tuple[list, list]:
        args = list(self.args)
        leaves = []
        for pos, arr, name in zip(self.diff, arrays, self.names):
            t = Tensor(arr, requires_grad=requires_grad, name=name)
            args[pos] = t
            leaves.append(t)
        return args, _tensor_outputs(self.fn(*args))

    def evaluate(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        with no_grad():
            _, outs = self.call(arrays, False)
        return [np.array(o.data, dtype=np.float64) for o in outs]

    def vjp(self, arrays: Sequence[np.ndarray], seeds: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One backward pass seeded with ``seeds`` (flattened gradient per input)."""
        with enable_grad():
            args, outs = self.call([a.copy() for a in arrays], True)
        leaves = [args[p] for p in self.diff]
        pairs = [(o, s) for o, s in zip(outs, seeds) if o.requires_grad]
        if not pairs:
            return [np.zeros(x.size) for x in arrays]
        gs = _grad([o for o, _ in pairs], leaves,
                   grad_outputs=[Tensor(s.astype(o.dtype)) for o, s in pairs],
                   allow_unused=True)
        return [np.zeros(x.size) if g is None else np.array(g.data, np.float64).reshape(-1)
                for g, x in zip(gs, arrays)]

    def analytic(self, arrays: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[list]]:
        with enable_grad():
            args, outs = self.call([a.copy() for a in arrays], True)
        leaves = [args[p] for p in self.diff]
        values = [np.array(o.data, dtype=np.float64) for o in outs]
        jac = [[np.zeros((o.size, x.size)) for x in arrays] for o in outs]
        for i, o in enumerate(outs):
            if not o.requires_grad:
                continue  # does not depend on any input: its Jacobian is zero
            seed = np.zeros(o.shape, dtype=o.dtype)
            flat = seed.reshape(-1)
            for j in range(o.size):
                flat[:] = 0
                flat[j] = 1
                gs = _grad(o, leaves, grad_outputs=Tensor(seed.copy()), retain_graph=True,
                           allow_unused=True)
                for k, (g, x) in enumerate(zip(gs, leaves)):
                    if g is None:
                        continue
                    if g.shape != x.shape:
                        raise GradcheckError(
                            f"gradcheck: the gradient w.r.t. input {self.diff[k]} has shape "
                            f"{g.shape} but the input has shape {x.shape}",
                            kind="shape", order=1, fn=self.fn, inputs=self.args,
                            input_index=self.diff[k], output_index=i)
                    jac[i][k][j] = g.data.reshape(-1)
        return values, jac


class _ValueProblem:
    """A function of scalar Values; every Value input is differentiated."""

    order_limit = 1

    def __init__(self, fn: Callable[..., Any], inputs: Sequence[Any]) -> None:
        self.fn = fn
        self.args = list(inputs)
        self.diff = [i for i, a in enumerate(self.args) if isinstance(a, Value)]
        self.base = [np.array(self.args[i].data, dtype=np.float64) for i in self.diff]
        self.names = [self.args[i].label or None for i in self.diff]

    def call(self, arrays: Sequence[np.ndarray], requires_grad: bool = True) -> tuple[list, list]:
        args = list(self.args)
        for pos, arr, name in zip(self.diff, arrays, self.names):
            args[pos] = Value(float(arr), label=name or "")
        return args, _value_outputs(self.fn(*args))

    def evaluate(self, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [np.array(o.data, dtype=np.float64) for o in self.call(arrays)[1]]

    def analytic(self, arrays: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[list]]:
        values = None
        jac = []
        n_out = None
        i = 0
        while n_out is None or i < n_out:
            args, outs = self.call(arrays)  # a fresh graph per output: .grad accumulates
            n_out = len(outs)
            if values is None:
                values = [np.array(o.data, dtype=np.float64) for o in outs]
            outs[i].backward()
            jac.append([np.array([[args[p].grad]], dtype=np.float64) for p in self.diff])
            i += 1
        return values or [], jac


def _tensor_outputs(out: Any) -> list[Tensor]:
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: the function must return a Tensor or a tuple of "
                            f"Tensors; output {i} is a {type(o).__name__}")
        if o.dtype.kind != "f":
            raise TypeError(f"gradcheck: output {i} has dtype {o.dtype}; only floating point "
                            "outputs have gradients")
    return outs


def _value_outputs(out: Any) -> list[Value]:
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    for i, o in enumerate(outs):
        if not isinstance(o, Value):
            raise TypeError(f"gradcheck: a function of Values must return a Value or a tuple "
                            f"of Values; output {i} is a {type(o).__name__}")
    return outs


def _problem(fn: Callable[..., Any], inputs: Any, who: str) -> _TensorProblem | _ValueProblem:
    if not callable(fn):
        raise TypeError(f"{who}: fn must be callable, got {type(fn).__name__}")
    if isinstance(inputs, (Tensor, Value)):
        inputs = (inputs,)
    elif not isinstance(inputs, (tuple, list)):
        raise TypeError(f"{who}: inputs must be a Tensor, a Value or a tuple of them, got "
                        f"{type(inputs).__name__}")
    has_value = any(isinstance(a, Value) for a in inputs)
    has_tensor = any(isinstance(a, Tensor) for a in inputs)
    if has_value and has_tensor:
        raise TypeError(f"{who}: inputs mix Values and Tensors; check them separately")
    prob = _ValueProblem(fn, inputs) if has_value else _TensorProblem(fn, inputs)
    if not prob.diff:
        raise ValueError(f"{who}: no input requires grad; pass Tensors with "
                         "requires_grad=True (or Values) for the inputs to check")
    return prob


# -- the check -------------------------------------------------------------------------------
class _Labels:
    """How inputs and outputs are named in messages: long forms for sentences, short
    ones for element formulas such as ``d out[2] / d w[1, 3]``."""

    def __init__(self, order: int, inputs: Sequence[tuple[str, str]],
                 outputs: Sequence[tuple[str, str]]) -> None:
        self.order = order
        self.who = "gradcheck" if order == 1 else "gradgradcheck"
        self.inputs = [long for long, _ in inputs]
        self.in_short = [short for _, short in inputs]
        self.outputs = [long for long, _ in outputs]
        self.out_short = [short for _, short in outputs]


def _input_label(pos: int, name: str | None) -> tuple[str, str]:
    return f"input {pos}" + (f" '{name}'" if name else ""), name or f"in{pos}"


def _default_labels(prob: Any, n_out: int) -> _Labels:
    ins = [_input_label(p, n) for p, n in zip(prob.diff, prob.names)]
    outs = [("the output", "out")] if n_out == 1 else [(f"output {i}", f"out{i}")
                                                       for i in range(n_out)]
    return _Labels(1, ins, outs)


class _Stats:
    """Largest errors over a passing check (for reports)."""

    def __init__(self) -> None:
        self.max_abs_error = 0.0
        self.max_rel_error = 0.0
        self.entries = 0


def _run_check(
    prob: Any,
    *,
    eps: float,
    atol: float,
    rtol: float,
    labels: _Labels | None = None,
) -> _Stats:
    """Compare the analytic and central-difference Jacobians; raise GradcheckError."""
    base = [np.array(b, dtype=np.float64) for b in prob.base]
    with np.errstate(all="ignore"):
        f0 = prob.evaluate(base)
    if labels is None:
        labels = _default_labels(prob, len(f0))
    who = labels.who
    for i, y in enumerate(f0):
        if not np.isfinite(y).all():
            raise GradcheckError(
                f"{who}: {labels.outputs[i]} is not finite at the check point (it contains "
                f"NaN/inf: {_short(y)}); choose inputs inside the function's domain",
                kind="nonfinite", order=labels.order, fn=prob.fn,
                inputs=_used_inputs(prob, base), output_index=i)
    values, jac_a = prob.analytic(base)
    for i, (y, v) in enumerate(zip(f0, values)):
        if y.shape != v.shape or not np.allclose(y, v, rtol=1e-10, atol=1e-12):
            diff = float(np.max(np.abs(y - v))) if y.shape == v.shape else float("nan")
            raise GradcheckError(
                f"{who}: the function is not deterministic: two calls with the same inputs "
                f"gave different values for {labels.outputs[i]} (max difference {diff:.3g}, "
                f"shapes {y.shape} and {v.shape}); fix random seeds and turn off dropout",
                kind="nondeterministic", order=labels.order, fn=prob.fn,
                inputs=_used_inputs(prob, base), output_index=i)
    with np.errstate(all="ignore"):
        jac_n, left, right = _numeric(prob, base, f0, eps)

    stats = _Stats()
    worst = None
    for i in range(len(f0)):
        for k in range(len(base)):
            a, n = jac_a[i][k], jac_n[i][k]
            if a.size == 0:
                continue
            err = np.abs(a - n)
            bad = ~(err <= atol + rtol * np.abs(n))
            score = np.where(bad, err - rtol * np.abs(n), -np.inf)
            score = np.where(np.isnan(score), np.inf, score)
            rel = err / np.maximum(np.abs(n), np.finfo(np.float64).tiny)
            stats.entries += a.size
            stats.max_abs_error = max(stats.max_abs_error, float(np.nanmax(err)))
            stats.max_rel_error = max(stats.max_rel_error, float(np.nanmax(
                np.where(err == 0, 0.0, rel))))
            if bad.any():
                j, e = np.unravel_index(int(np.argmax(score)), a.shape)
                if worst is None or score[j, e] > worst[0]:
                    worst = (float(score[j, e]), i, k, int(j), int(e), int(bad.sum()))
    if worst is None:
        if isinstance(prob, _TensorProblem):
            _check_linearity(prob, base, f0, jac_a, rtol=rtol, labels=labels)
        return stats
    _, i, k, j, e, n_bad = worst
    raise _failure(prob, base, f0, jac_a, jac_n, left, right, i, k, j, e, n_bad, stats,
                   eps=eps, atol=atol, rtol=rtol, labels=labels)


def _check_linearity(prob: _TensorProblem, base: list[np.ndarray], f0: list[np.ndarray],
                     jac_a: list[list], *, rtol: float, labels: _Labels) -> None:
    """The Jacobian rows came from unit seeds, which cannot tell ``g * g`` from ``g``.
    A backward must be linear in its incoming gradient: one backward pass seeded with a
    random ``u`` must give ``u^T J`` built from those (already verified) rows."""
    rng = np.random.default_rng(12345)
    seeds = [rng.standard_normal(y.shape) for y in f0]
    got = prob.vjp(base, seeds)
    for k, g in enumerate(got):
        want = sum(u.reshape(-1) @ jac_a[i][k] for i, u in enumerate(seeds))
        scale = sum(np.abs(u.reshape(-1)) @ np.abs(jac_a[i][k]) for i, u in enumerate(seeds))
        err = np.abs(g - want)
        bad = ~(err <= rtol * scale + 1e-12)
        if bad.any():
            e = int(np.argmax(np.where(bad, err, -np.inf)))
            el = _unravel(e, base[k].shape)
            raise GradcheckError(
                f"{labels.who} failed: the backward is not linear in its incoming gradient. "
                f"Seeded with unit vectors it gives the right Jacobian J, but seeded with a "
                f"random grad_output u it gives a gradient for {labels.inputs[k]} (shape "
                f"{base[k].shape}) that differs from u^T J: at {labels.in_short[k]}"
                f"{_fmt_index(el)} {g[e]:.8g} instead of {want[e]:.8g}.\n"
                "  A backward must only multiply the incoming gradient by local derivatives "
                "(no grad * grad, abs(grad), grad + constant).",
                kind="nonlinear", order=labels.order, fn=prob.fn,
                inputs=_used_inputs(prob, base), input_index=prob.diff[k],
                input_name=prob.names[k], input_element=el, analytic=float(g[e]),
                numeric=float(want[e]), max_abs_error=float(err.max()))


def _numeric(prob: Any, base: list[np.ndarray], f0: list[np.ndarray],
             eps: float) -> tuple[list[list], list[list], list[list]]:
    """Central, left and right differences of every output w.r.t. every input element."""
    sizes = [y.size for y in f0]
    central = [[np.zeros((m, x.size)) for x in base] for m in sizes]
    left = [[np.zeros((m, x.size)) for x in base] for m in sizes]
    right = [[np.zeros((m, x.size)) for x in base] for m in sizes]
    for k, x in enumerate(base):
        for e in range(x.size):
            fp, fm, hp, hm = _perturb(prob, base, k, e, eps)
            for i, y in enumerate(f0):
                p, m, y0 = fp[i].reshape(-1), fm[i].reshape(-1), y.reshape(-1)
                central[i][k][:, e] = (p - m) / (hp + hm)
                left[i][k][:, e] = (y0 - m) / hm
                right[i][k][:, e] = (p - y0) / hp
    return central, left, right


def _perturb(prob: Any, base: list[np.ndarray], k: int, e: int,
             eps: float) -> tuple[list, list, float, float]:
    """Outputs at element ``e`` of input ``k`` moved by +eps and -eps, and the exact steps."""
    flat = base[k].reshape(-1)
    orig = flat[e]
    flat[e] = orig + eps
    hp = float(flat[e] - orig)
    fp = prob.evaluate(base)
    flat[e] = orig - eps
    hm = float(orig - flat[e])
    fm = prob.evaluate(base)
    flat[e] = orig
    return fp, fm, hp, hm


def _used_inputs(prob: Any, base: list[np.ndarray]) -> list[Any]:
    args = list(prob.args)
    for pos, arr, name in zip(prob.diff, base, prob.names):
        if isinstance(prob, _ValueProblem):
            args[pos] = Value(float(arr), label=name or "")
        else:
            args[pos] = Tensor(arr.copy(), requires_grad=True, name=name)
    return args


def _failure(prob: Any, base: list[np.ndarray], f0: list[np.ndarray], jac_a: list,
             jac_n: list, left: list, right: list, i: int, k: int, j: int, e: int,
             n_bad: int, stats: _Stats, *, eps: float, atol: float, rtol: float,
             labels: _Labels) -> GradcheckError:
    a_blk, n_blk = jac_a[i][k], jac_n[i][k]
    a, n = float(a_blk[j, e]), float(n_blk[j, e])
    lft, rgt = float(left[i][k][j, e]), float(right[i][k][j, e])
    out_el = _unravel(j, f0[i].shape)
    in_el = _unravel(e, base[k].shape)
    out_label, in_label = labels.outputs[i], labels.inputs[k]
    where = (f"d {labels.out_short[i]}{_fmt_index(out_el)} / "
             f"d {labels.in_short[k]}{_fmt_index(in_el)}")
    who = labels.who
    err = abs(a - n)
    max_abs = float(np.nanmax(np.abs(a_blk - n_blk)))
    rel_blk = np.abs(a_blk - n_blk) / np.maximum(np.abs(n_blk), np.finfo(np.float64).tiny)
    max_rel = float(np.nanmax(np.where(a_blk == n_blk, 0.0, rel_blk)))
    tol = atol + rtol * max(abs(lft), abs(rgt))
    kind = "mismatch"
    lines: list[str] = []
    if np.isfinite(lft) and np.isfinite(rgt) and abs(lft - rgt) > tol:
        kind, lines = _classify_kink(prob, base, k, e, i, j, a, lft, rgt, n, eps, tol,
                                     f"{who} failed", where)
    if kind == "mismatch":
        what = ("the analytic gradient" if labels.order == 1 else
                "the second derivative (the Jacobian of the first gradient, built with "
                "create_graph=True)")
        lines = [
            f"{who} failed: {what} of {out_label} (shape {f0[i].shape}) w.r.t. {in_label} "
            f"(shape {base[k].shape}) does not match central differences"
            + ("" if labels.order == 1 else " of the first gradient") + ".",
            f"  worst element: {where}: analytic {a:.8g}, numeric {n:.8g} "
            f"(abs error {err:.3g})",
        ]
    lines.append(
        f"  max abs error {max_abs:.3g}, max rel error {max_rel:.3g} (atol {atol:g}, "
        f"rtol {rtol:g}, eps {eps:g}); {n_bad} of {a_blk.size} entries of this Jacobian "
        "out of tolerance")
    if a_blk.shape[0] <= _TABLE_MAX and a_blk.shape[1] <= _TABLE_MAX:
        lines.append(_table(a_blk, n_blk, atol, rtol, out_label, in_label))
    lines.append(f"  inputs (float64): {_inputs_summary(base, labels)}")
    return GradcheckError(
        "\n".join(lines), kind=kind, order=labels.order, fn=prob.fn,
        inputs=_used_inputs(prob, base), input_index=prob.diff[k],
        input_name=prob.names[k], output_index=i, input_element=in_el,
        output_element=out_el, analytic=a, numeric=n, left=lft, right=rgt,
        max_abs_error=max_abs, max_rel_error=max_rel, analytic_jacobian=a_blk.copy(),
        numeric_jacobian=n_blk.copy())


def _classify_kink(prob: Any, base: list[np.ndarray], k: int, e: int, i: int, j: int,
                   a: float, lft: float, rgt: float, n: float, eps: float, tol: float,
                   failed: str, where: str) -> tuple[str, list[str]]:
    """One-sided differences disagree: a kink, or only strong curvature?

    A kink's jump between the left and right derivative stays when the step shrinks;
    curvature's jump shrinks with the step. A kink within eps of the point (but not at
    it) shows up as a central difference that agrees with the analytic value once the
    step is small enough.
    """
    small = eps / 100
    with np.errstate(all="ignore"):
        fp, fm, hp, hm = _perturb(prob, base, k, e, small)
        y0 = prob.evaluate(base)[i].reshape(-1)[j]
    p, m = fp[i].reshape(-1)[j], fm[i].reshape(-1)[j]
    l2, r2, c2 = (y0 - m) / hm, (p - y0) / hp, (p - m) / (hp + hm)
    jump, jump2 = abs(lft - rgt), abs(l2 - r2)
    if jump2 > 0.5 * jump:
        side = _which_side(a, l2, r2, tol)
        return "kink", [
            f"{failed} at a non-differentiable point: {where} has left derivative "
            f"{l2:.8g} and right derivative {r2:.8g} (central difference {n:.8g}); the "
            f"analytic value {a:.8g} {side}.",
            "  The function has a kink at this input (relu/abs at 0, max/min at a tie, "
            "clip at a bound): any value there is a convention, not a derivative. Check "
            "gradients away from kinks, e.g. with autograd.testing.away_from(...).",
        ]
    if abs(c2 - a) <= tol:
        return "kink", [
            f"{failed} next to a non-differentiable point: {where}: a kink lies "
            f"within eps={eps:g} of the input, so the central difference {n:.8g} straddles "
            f"it (left {lft:.8g}, right {rgt:.8g}); with step {small:g} it gives {c2:.8g}, "
            f"matching the analytic value {a:.8g}.",
            "  Check gradients farther from kinks (autograd.testing.away_from(...)) or use "
            "a smaller eps.",
        ]
    return "mismatch", []


def _which_side(a: float, lft: float, rgt: float, tol: float) -> str:
    if abs(a - lft) <= tol and abs(a - rgt) <= tol:
        return "matches both"
    if abs(a - lft) <= tol:
        return "equals the left derivative"
    if abs(a - rgt) <= tol:
        return "equals the right derivative"
    if abs(a - 0.5 * (lft + rgt)) <= tol:
        return "is their average"
    if min(lft, rgt) - tol <= a <= max(lft, rgt) + tol:
        return "lies between them"
    return "lies outside [left, right]: probably wrong even as a convention"


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(v) for v in np.unravel_index(flat, shape)) if shape else ()


def _fmt_index(idx: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(v) for v in idx) + "]" if idx else ""


def _short(a: np.ndarray) -> str:
    text = np.array2string(np.asarray(a), precision=4, threshold=8, separator=", ")
    return " ".join(text.split())


def _inputs_summary(base: list[np.ndarray], labels: _Labels) -> str:
    return "; ".join(f"{short}={_short(arr)}" for short, arr in zip(labels.in_short, base))


def _table(a: np.ndarray, n: np.ndarray, atol: float, rtol: float, out_label: str,
           in_label: str) -> str:
    """Analytic and numeric Jacobians side by side; * marks entries out of tolerance."""
    bad = ~(np.abs(a - n) <= atol + rtol * np.abs(n))
    w = 11

    def cell(v: float, mark: bool) -> str:
        return (("*" if mark else " ") + f"{v:.5g}").rjust(w)

    head = "".join(f"[{c}]".rjust(w) for c in range(a.shape[1]))
    width = w * a.shape[1]
    lines = [
        f"  Jacobian of {out_label} w.r.t. {in_label} (rows: output elements, columns: "
        "input elements, flattened; * = out of tolerance)",
        "       " + "analytic".center(width) + " | " + "numeric".center(width),
        "       " + head + " | " + head,
    ]
    for r in range(a.shape[0]):
        left = "".join(cell(a[r, c], bad[r, c]) for c in range(a.shape[1]))
        right = "".join(cell(n[r, c], False) for c in range(a.shape[1]))
        lines.append(f"  {f'[{r}]':>4} " + left + " | " + right)
    return "\n".join(lines)


# -- public API ------------------------------------------------------------------------------
def gradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check ``fn``'s analytic Jacobians against central differences, in float64.

    ``inputs`` is a Tensor, a Value or a tuple of arguments; Tensors with
    ``requires_grad=True`` (every Value) are checked, others are passed as constants.
    Float inputs are copied to float64 first. ``fn`` may return a Tensor or a tuple of
    Tensors of any shape (Values for Value inputs). An entry passes when
    ``|analytic - numeric| <= atol + rtol * |numeric|``; one more backward pass with a
    random seed checks that the backward is linear in its incoming gradient. Returns
    True, or raises :class:`GradcheckError` (returns False when
    ``raise_exception=False``). The Jacobians are full: one backward pass per output
    element and two forward passes per input element, so keep shapes small.
    """
    prob = _problem(fn, inputs, "gradcheck")
    try:
        _run_check(prob, eps=eps, atol=atol, rtol=rtol)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    grad_outputs: Any = None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Check second derivatives: the gradients of ``fn`` built with ``create_graph=True``
    are differentiated again and compared with central differences of the gradients.

    The checked function maps (inputs, grad_outputs) to the vector-Jacobian products
    ``grad(fn(inputs), inputs, grad_outputs)``; ``grad_outputs`` (random normal from
    ``seed`` when not given) are differentiated too, so a backward that is not linear in
    its incoming gradient is caught as well.
    """
    prob = _problem(fn, inputs, "gradgradcheck")
    if isinstance(prob, _ValueProblem):
        raise TypeError("gradgradcheck: Value gradients are plain floats (first order only); "
                        "use Tensors for second derivatives")
    with np.errstate(all="ignore"):
        f0 = prob.evaluate(prob.base)
    vs = _grad_outputs(grad_outputs, f0, seed)
    n_args = len(prob.args)
    diff = list(prob.diff)

    def first_gradients(*args_and_vs: Any) -> tuple[Tensor, ...]:
        args, seeds = list(args_and_vs[:n_args]), args_and_vs[n_args:]
        create = any(isinstance(a, Tensor) and a.requires_grad for a in args_and_vs)
        with enable_grad():
            for p in diff:
                if not args[p].requires_grad:
                    args[p] = Tensor(args[p].data, requires_grad=True, name=args[p].name)
            leaves = [args[p] for p in diff]
            outs = _tensor_outputs(fn(*args))
            used = [(o, v) for o, v in zip(outs, seeds) if o.requires_grad]
            if not used:
                return tuple(Tensor(np.zeros(x.shape)) for x in leaves)
            gs = _grad([o for o, _ in used], leaves, grad_outputs=[v for _, v in used],
                       create_graph=create, allow_unused=True)
        return tuple(Tensor(np.zeros(x.shape)) if g is None else g
                     for g, x in zip(gs, leaves))

    inner = _TensorProblem(first_gradients, list(prob.args) + vs)
    ins = [_input_label(p, n) if p < n_args else (f"grad_output {p - n_args}", f"v{p - n_args}")
           for p, n in zip(inner.diff, inner.names)]
    outs = []
    for p, n in zip(prob.diff, prob.names):
        long, short = _input_label(p, n)
        outs.append((f"the gradient w.r.t. {long}", f"grad_{short}"))
    try:
        _run_check(inner, eps=eps, atol=atol, rtol=rtol, labels=_Labels(2, ins, outs))
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def _grad_outputs(grad_outputs: Any, f0: list[np.ndarray], seed: int) -> list[Tensor]:
    if grad_outputs is None:
        rng = np.random.default_rng(seed)
        return [Tensor(rng.standard_normal(y.shape), requires_grad=True) for y in f0]
    gos = list(grad_outputs) if isinstance(grad_outputs, (tuple, list)) else [grad_outputs]
    if len(gos) != len(f0):
        raise ValueError(f"gradgradcheck: {len(gos)} grad_outputs for {len(f0)} outputs")
    out = []
    for i, (g, y) in enumerate(zip(gos, f0)):
        arr = np.array(g.data if isinstance(g, Tensor) else g, dtype=np.float64)
        if arr.shape != y.shape:
            raise ValueError(f"gradgradcheck: grad_outputs[{i}] has shape {arr.shape} but "
                             f"output {i} has shape {y.shape}")
        out.append(Tensor(arr, requires_grad=True))
    return out
