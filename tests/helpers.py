"""Independent central-difference checks used by the engine tests.

These do not use ``autograd.gradcheck`` on purpose: the engine is checked against plain
numpy finite differences written here, so a bug in gradcheck cannot hide one in the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

import autograd as ag


def _loss(f: Callable, arrays: Sequence[np.ndarray], weights: np.ndarray) -> float:
    with ag.no_grad():
        out = f(*[ag.Tensor(a) for a in arrays])
    return float(np.sum(out.data * weights))


def numeric_grads(f: Callable, arrays: Sequence[np.ndarray], weights: np.ndarray,
                  eps: float = 1e-6) -> list[np.ndarray]:
    """Central differences of sum(f(*arrays) * weights) w.r.t. each array (float64)."""
    grads = []
    for k, a in enumerate(arrays):
        g = np.zeros_like(a, dtype=np.float64)
        for idx in np.ndindex(a.shape):
            plus = [x.copy() for x in arrays]
            minus = [x.copy() for x in arrays]
            plus[k][idx] += eps
            minus[k][idx] -= eps
            g[idx] = (_loss(f, plus, weights) - _loss(f, minus, weights)) / (2 * eps)
        grads.append(g)
    return grads


def check_first_order(f: Callable, *arrays: np.ndarray, seed: int = 0, atol: float = 1e-6,
                      rtol: float = 1e-5) -> None:
    """Analytic gradients of f (via backward) equal central differences, in float64."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    xs = [ag.Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = f(*xs)
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(out.shape)
    (out * w).sum().backward()
    num = numeric_grads(f, arrays, w)
    for i, (x, n) in enumerate(zip(xs, num)):
        assert x.grad is not None, f"input {i} got no gradient"
        assert x.grad.shape == x.shape, f"input {i}: grad shape {x.grad.shape} != {x.shape}"
        assert x.grad.dtype == np.float64
        np.testing.assert_allclose(x.grad.data, n, atol=atol, rtol=rtol,
                                   err_msg=f"first-order gradient of input {i}")


def check_second_order(f: Callable, *arrays: np.ndarray, seed: int = 1, atol: float = 1e-5,
                       rtol: float = 1e-4) -> None:
    """The gradient of <grad f, v> (built with create_graph) equals central differences."""
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    rng = np.random.default_rng(seed)
    with ag.no_grad():
        out_shape = f(*[ag.Tensor(a) for a in arrays]).shape
    w = rng.standard_normal(out_shape)
    vs = [rng.standard_normal(a.shape) for a in arrays]

    def inner(*ts: ag.Tensor) -> ag.Tensor:
        with ag.enable_grad():
            leaves = [ag.Tensor(t.data, requires_grad=True) if not t.requires_grad else t
                      for t in ts]
            out = (f(*leaves) * w).sum()
            gs = ag.grad(out, leaves, create_graph=True, allow_unused=True)
            total = ag.Tensor(np.float64(0.0))
            for g, v in zip(gs, vs):
                if g is not None:
                    total = total + (g * v).sum()
            return total

    xs = [ag.Tensor(a.copy(), requires_grad=True) for a in arrays]
    g2 = inner(*xs)
    if not g2.requires_grad:  # all second derivatives are zero (piecewise-linear op)
        analytic = [np.zeros_like(a) for a in arrays]
    else:
        analytic = list(ag.grad(g2, xs, allow_unused=True))
        analytic = [np.zeros_like(a) if g is None else g.data for g, a in zip(analytic, arrays)]

    def scalar(*ts: ag.Tensor) -> ag.Tensor:
        return inner(*ts)

    num = numeric_grads(scalar, arrays, np.float64(1.0), eps=1e-5)
    for i, (a, n) in enumerate(zip(analytic, num)):
        np.testing.assert_allclose(a, n, atol=atol, rtol=rtol,
                                   err_msg=f"second-order gradient of input {i}")


class Cube(ag.Function):
    """The custom op of the API contract: x ** 3 with its exact backward."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x ** 2


class CubeConstantDerivative(Cube):
    """Right first derivative, but the backward is cut from the graph: wrong second order."""

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ag.Tensor(3 * x.data ** 2)
