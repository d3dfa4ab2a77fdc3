"""Whole-function derivatives on top of ``autograd.grad``: jacobian, hessian, vjp, jvp, hvp.

Every result comes from backward passes (``hvp`` and ``jvp`` from double backward through
``create_graph=True``), never from finite differences. ``x`` is a Tensor or a tuple of
Tensors; results mirror that structure. With ``create_graph=True`` the results are
themselves differentiable (and stay connected to ``x`` when ``x`` requires grad).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .engine import enable_grad
from .ops.shape import stack
from .tensor import Tensor
from .tensor import grad as _grad

__all__ = ["jacobian", "hessian", "vjp", "jvp", "hvp"]


def _inputs(x: Any, who: str, create_graph: bool) -> tuple[tuple[Tensor, ...], bool]:
    """The inputs as leaves to differentiate against, and whether ``x`` was a tuple."""
    is_tuple = isinstance(x, (tuple, list))
    xs = tuple(x) if is_tuple else (x,)
    if not xs:
        raise ValueError(f"{who}: x is an empty tuple")
    out = []
    for i, t in enumerate(xs):
        if not isinstance(t, Tensor):
            raise TypeError(f"{who}: x[{i}] is a {type(t).__name__}, not a Tensor")
        if t.dtype.kind != "f":
            raise TypeError(f"{who}: x[{i}] has dtype {t.dtype}; only floating point "
                            "tensors have derivatives")
        if create_graph and t.requires_grad:
            out.append(t)  # stay connected, so the result can be differentiated w.r.t. x
        else:
            out.append(Tensor(t.data, requires_grad=True, name=t.name))
    return tuple(out), is_tuple


def _outputs(y: Any, who: str) -> tuple[tuple[Tensor, ...], bool]:
    is_tuple = isinstance(y, (tuple, list))
    ys = tuple(y) if is_tuple else (y,)
    for i, t in enumerate(ys):
        if not isinstance(t, Tensor):
            raise TypeError(f"{who}: f returned a {type(t).__name__} as output {i}; it must "
                            "return a Tensor or a tuple of Tensors")
    return ys, is_tuple


def _vectors(v: Any, like: Sequence[Tensor], what: str, who: str) -> list[Tensor]:
    """``v`` as one Tensor per entry of ``like``, each with the same shape."""
    vs = list(v) if isinstance(v, (tuple, list)) else [v]
    if len(vs) != len(like):
        raise ValueError(f"{who}: got {len(vs)} vectors for {len(like)} {what}s")
    out = []
    for i, (u, t) in enumerate(zip(vs, like)):
        u = u if isinstance(u, Tensor) else Tensor(np.asarray(u, dtype=t.dtype))
        if u.shape != t.shape:
            raise ValueError(f"{who}: v[{i}] has shape {u.shape} but {what} {i} has shape "
                             f"{t.shape}")
        out.append(u)
    return out


def _zeros(t: Tensor) -> Tensor:
    return Tensor(np.zeros(t.shape, dtype=t.dtype))


def _grads(ys: Sequence[Tensor], xs: Sequence[Tensor], vs: Sequence[Tensor],
           create_graph: bool) -> list[Tensor]:
    """sum_i v_i^T dy_i/dx for each x (zeros where x is unused), graph kept for reuse."""
    pairs = [(y, v) for y, v in zip(ys, vs) if y.requires_grad]
    if not pairs:
        return [_zeros(x) for x in xs]
    gs = _grad([y for y, _ in pairs], list(xs), grad_outputs=[v for _, v in pairs],
               retain_graph=True, create_graph=create_graph, allow_unused=True)
    return [_zeros(x) if g is None else g for g, x in zip(gs, xs)]


def _jacobian_of(ys: Sequence[Tensor], xs: Sequence[Tensor],
                 create_graph: bool) -> list[list[Tensor]]:
    """J[i][j] of shape ys[i].shape + xs[j].shape, one backward pass per output element."""
    jac = []
    for y in ys:
        rows: list[list[Tensor]] = [[] for _ in xs]
        if y.requires_grad:
            seed = np.zeros(y.shape, dtype=y.dtype)
            flat = seed.reshape(-1)
            for e in range(y.size):
                flat[:] = 0
                flat[e] = 1
                gs = _grads([y], xs, [Tensor(seed.copy())], create_graph)
                for j, g in enumerate(gs):
                    rows[j].append(g)
        blocks = []
        for j, x in enumerate(xs):
            shape = y.shape + x.shape
            if not rows[j]:
                blocks.append(Tensor(np.zeros(shape, dtype=x.dtype)))
            elif create_graph:
                blocks.append(stack(rows[j]).reshape(shape))
            else:
                blocks.append(Tensor(np.stack([g.data for g in rows[j]]).reshape(shape)))
        jac.append(blocks)
    return jac


def _shape_result(jac: list[list[Any]], out_tuple: bool, in_tuple: bool) -> Any:
    rows = [tuple(r) if in_tuple else r[0] for r in jac]
    return tuple(rows) if out_tuple else rows[0]


def jacobian(f: Callable[..., Any], x: Any, create_graph: bool = False) -> Any:
    """The Jacobian of ``f`` at ``x``: shape ``out.shape + x.shape``.

    For a tuple ``x`` the result is a tuple over inputs; for a tuple output, a tuple
    over outputs (of tuples over inputs when both are tuples), as ``J[i][j]``.
    """
    xs, in_tuple = _inputs(x, "jacobian", create_graph)
    with enable_grad():
        ys, out_tuple = _outputs(f(*xs), "jacobian")
        jac = _jacobian_of(ys, xs, create_graph)
    return _shape_result(jac, out_tuple, in_tuple)


def _scalar_and_gradient(f: Callable[..., Any], xs: tuple[Tensor, ...],
                         who: str) -> tuple[Tensor, list]:
    """``f(*xs)``, which must be one one-element Tensor, and its gradient w.r.t. ``xs``
    built with ``create_graph=True`` so it can be differentiated again."""
    ys, out_tuple = _outputs(f(*xs), who)
    if out_tuple or ys[0].size != 1:
        raise ValueError(f"{who}: f must return a single one-element Tensor, got "
                         f"{'a tuple' if out_tuple else f'shape {ys[0].shape}'}")
    y = ys[0]
    return y, _grads([y], xs, [Tensor(np.ones(y.shape, dtype=y.dtype))], True)


def hessian(f: Callable[..., Any], x: Any, create_graph: bool = False) -> Any:
    """The Hessian of a scalar ``f`` at ``x``: shape ``x.shape + x.shape`` (for a tuple
    ``x``, a tuple of tuples ``H[i][j]`` of shape ``x[i].shape + x[j].shape``)."""
    xs, in_tuple = _inputs(x, "hessian", create_graph)
    with enable_grad():
        _, gs = _scalar_and_gradient(f, xs, "hessian")
        jac = _jacobian_of(gs, xs, create_graph)
    return _shape_result(jac, in_tuple, in_tuple)


def vjp(f: Callable[..., Any], x: Any, v: Any = None,
        create_graph: bool = False) -> tuple[Any, Any]:
    """``(f(x), v^T J)``: the vector-Jacobian product, one backward pass.

    ``v`` has the output's shape (a tuple for tuple outputs); it may be omitted for a
    one-element output.
    """
    xs, in_tuple = _inputs(x, "vjp", create_graph)
    with enable_grad():
        ys, out_tuple = _outputs(f(*xs), "vjp")
        if v is None:
            if len(ys) != 1 or ys[0].size != 1:
                raise ValueError("vjp: v may be omitted only for a single one-element output; "
                                 f"pass v with the output's shape {[y.shape for y in ys]}")
            vs = [Tensor(np.ones(ys[0].shape, dtype=ys[0].dtype))]
        else:
            vs = _vectors(v, ys, "output", "vjp")
        gs = _grads(ys, xs, vs, create_graph)
    outs = ys if create_graph else tuple(y.detach() for y in ys)
    return (tuple(outs) if out_tuple else outs[0]), (tuple(gs) if in_tuple else gs[0])


def jvp(f: Callable[..., Any], x: Any, v: Any,
        create_graph: bool = False) -> tuple[Any, Any]:
    """``(f(x), J v)``: the Jacobian-vector product, by the double-backward trick.

    ``u -> J^T u`` is linear in ``u``; differentiating it with respect to ``u`` in the
    direction ``v`` gives ``J v`` without building ``J``.
    """
    xs, in_tuple = _inputs(x, "jvp", create_graph)
    vs = _vectors(v, xs, "input", "jvp")
    with enable_grad():
        ys, out_tuple = _outputs(f(*xs), "jvp")
        us = [Tensor(np.zeros(y.shape, dtype=y.dtype), requires_grad=True) for y in ys]
        gs = _grads(ys, xs, us, True)
        pairs = [(g, w) for g, w in zip(gs, vs) if g.requires_grad]
        if pairs:
            jv = _grad([g for g, _ in pairs], us, grad_outputs=[w for _, w in pairs],
                       create_graph=create_graph, allow_unused=True)
            jv = [_zeros(y) if t is None else t for t, y in zip(jv, ys)]
        else:
            jv = [_zeros(y) for y in ys]
    outs = ys if create_graph else tuple(y.detach() for y in ys)
    return (tuple(outs) if out_tuple else outs[0]), (tuple(jv) if out_tuple else jv[0])


def hvp(f: Callable[..., Any], x: Any, v: Any,
        create_graph: bool = False) -> tuple[Any, Any]:
    """``(f(x), H v)`` for a scalar ``f``, by double backward: the gradient is built with
    ``create_graph=True`` and differentiated again in the direction ``v`` (the Hessian is
    symmetric, so ``v^T H = (H v)^T``)."""
    xs, in_tuple = _inputs(x, "hvp", create_graph)
    vs = _vectors(v, xs, "input", "hvp")
    with enable_grad():
        y, gs = _scalar_and_gradient(f, xs, "hvp")
        hv = _grads(gs, xs, vs, create_graph)
    out = y if create_graph else y.detach()
    return out, (tuple(hv) if in_tuple else hv[0])
