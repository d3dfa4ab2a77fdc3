"""Engine semantics: each feature has a test that fails without it."""

from __future__ import annotations

import gc
import sys
import weakref

import numpy as np
import pytest
from helpers import Cube

import autograd as ag
from autograd import engine


def leaf(values, dtype=np.float64):
    return ag.Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


class TestAccumulation:
    def test_reused_node_gets_summed_gradient(self):
        x = leaf([2.0])
        y = x * x + x  # x used three times
        y.backward()
        np.testing.assert_allclose(x.grad.data, [5.0])

    def test_diamond(self):
        x = leaf([1.5])
        a = x.exp()
        y = a * a.sin() + a  # a reaches y along three paths
        y.backward()
        e = np.exp(1.5)
        np.testing.assert_allclose(x.grad.data, [(np.sin(e) + e * np.cos(e) + 1) * e])

    def test_grads_accumulate_across_backward_calls(self):
        x = leaf([1.0, 2.0])
        (x * 3).sum().backward()
        (x * x).sum().backward()
        np.testing.assert_allclose(x.grad.data, [3 + 2, 3 + 4])

    def test_accumulated_grad_is_not_shared_between_leaves(self):
        a, b = leaf([1.0]), leaf([1.0])
        (a + b).backward()
        assert a.grad is not b.grad and a.grad.data is not b.grad.data
        (a + b).backward()
        np.testing.assert_allclose(a.grad.data, [2.0])
        np.testing.assert_allclose(b.grad.data, [2.0])

    def test_only_leaves_get_grad_by_default(self):
        x = leaf([1.0])
        y = x * 2
        z = y * 3
        z.backward()
        assert y.grad is None and x.grad is not None
        assert x.is_leaf and not y.is_leaf and y.grad_fn is not None

    def test_retain_grad_on_non_leaf(self):
        x = leaf([1.0, 2.0])
        y = x * 2
        y.retain_grad()
        (y * y).sum().backward()
        np.testing.assert_allclose(y.grad.data, 2 * y.data)

    def test_backward_on_leaf(self):
        x = leaf([3.0])
        x.backward()
        np.testing.assert_allclose(x.grad.data, [1.0])

    def test_explicit_gradient_for_non_scalar(self):
        x = leaf([1.0, 2.0])
        y = x * x
        y.backward(np.array([1.0, 10.0]))
        np.testing.assert_allclose(x.grad.data, [2.0, 40.0])


class TestErrors:
    def test_non_scalar_backward_says_what_to_pass(self):
        y = leaf([1.0, 2.0]) * 2
        with pytest.raises(RuntimeError, match=r"shape \(2,\).*grad="):
            y.backward()

    def test_gradient_shape_must_match(self):
        y = leaf([1.0, 2.0]) * 2
        with pytest.raises(RuntimeError, match=r"\(3,\).*\(2,\)"):
            y.backward(np.ones(3))

    def test_backward_without_grad_says_why(self):
        y = ag.Tensor([1.0]) * 2
        with pytest.raises(RuntimeError, match="does not require grad"):
            y.backward()

    def test_integer_tensors_cannot_require_grad(self):
        with pytest.raises(TypeError, match="int64"):
            ag.Tensor(np.array([1, 2]), requires_grad=True)
        t = ag.Tensor([True, False])
        with pytest.raises(TypeError):
            t.requires_grad = True

    def test_backward_returning_wrong_count(self):
        class Bad(ag.Function):
            @staticmethod
            def forward(ctx, x, y):
                return x + y

            @staticmethod
            def backward(ctx, g):
                return g

        out = Bad.apply(leaf([1.0]), leaf([2.0]))
        with pytest.raises(RuntimeError, match="Bad.backward returned 1 gradients for 2 inputs"):
            out.backward()

    def test_backward_returning_wrong_shape(self):
        class Bad(ag.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return ag.Tensor(np.ones(5))

        with pytest.raises(RuntimeError, match=r"Bad.backward returned a gradient of shape \(5,\)"):
            Bad.apply(leaf([1.0, 2.0])).sum().backward()


class TestRetainGraph:
    def test_second_backward_through_freed_graph_raises(self):
        x = leaf([1.0, 2.0])
        y = (x * x).sum()
        y.backward()
        with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
            y.backward()

    def test_retain_graph_allows_second_backward(self):
        x = leaf([1.0, 2.0])
        y = (x * x).sum()
        y.backward(retain_graph=True)
        y.backward()
        np.testing.assert_allclose(x.grad.data, [4.0, 8.0])

    def test_saved_buffers_are_released(self):
        class Scaled(ag.Function):
            @staticmethod
            def forward(ctx, x):
                big = np.full(x.shape, 3.0)  # an intermediate only backward needs
                ctx.save_for_backward(big)
                return x * big

            @staticmethod
            def backward(ctx, g):
                (big,) = ctx.saved_tensors
                return g * big

        x = leaf(np.ones(3))
        y = Scaled.apply(x).sum()
        buf = weakref.ref(y.grad_fn.inputs[0].grad_fn._saved[0])
        y.backward(retain_graph=True)
        assert buf() is not None  # retained
        y.backward()
        assert buf() is None  # released by the backward without retain_graph
        np.testing.assert_allclose(x.grad.data, [6.0, 6.0, 6.0])

    def test_freed_graph_structure_stays_walkable(self):
        x = leaf([1.0])
        y = (x * 2).exp().sum()
        y.backward()
        order = engine.topological_order([y.grad_fn])
        assert [v.name for v in order if not isinstance(v, ag.Tensor)] == ["Sum", "Exp", "Mul"]
        assert order[-1] is x


class TestGradMode:
    def test_no_grad_context_and_decorator(self):
        x = leaf([1.0])
        with ag.no_grad():
            assert not ag.is_grad_enabled()
            y = x * 2
        assert ag.is_grad_enabled()
        assert not y.requires_grad and y.grad_fn is None

        @ag.no_grad()
        def f(t):
            return t * 3

        assert f(x).grad_fn is None
        assert ag.is_grad_enabled()

    def test_enable_grad_inside_no_grad(self):
        x = leaf([1.0])
        with ag.no_grad():
            with ag.enable_grad():
                y = x * 2
            z = x * 2
        assert y.requires_grad and not z.requires_grad

        @ag.enable_grad()
        def f(t):
            return t * 3

        with ag.no_grad():
            assert f(x).requires_grad

    def test_no_grad_restored_after_exception(self):
        with pytest.raises(ValueError):
            with ag.no_grad():
                raise ValueError
        assert ag.is_grad_enabled()

    def test_backward_runs_without_recording(self):
        seen = []
        x = leaf([1.0])
        y = x * x
        y.register_hook(lambda g: seen.append(g.requires_grad))
        (y * 2).backward()
        assert seen == [False]

    def test_detach(self):
        x = leaf([2.0])
        y = x.detach() * x
        y.backward()
        np.testing.assert_allclose(x.grad.data, [2.0])
        assert x.detach().data is x.data


class TestHooks:
    def test_leaf_hook_can_replace_gradient(self):
        x = leaf([1.0, 2.0])
        x.register_hook(lambda g: g * 10)
        (x * 2).sum().backward()
        np.testing.assert_allclose(x.grad.data, [20.0, 20.0])

    def test_non_leaf_hook_sees_total_and_changes_flow(self):
        x = leaf([1.0])
        y = x * 3
        seen = []

        def hook(g):
            seen.append(g.data.copy())
            return g * 0

        y.register_hook(hook)
        (y * y + y).backward()
        np.testing.assert_allclose(seen[0], [2 * 3 + 1])
        np.testing.assert_allclose(x.grad.data, [0.0])

    def test_hook_removal(self):
        x = leaf([1.0])
        h = x.register_hook(lambda g: g * 5)
        h.remove()
        (x * 1).backward()
        np.testing.assert_allclose(x.grad.data, [1.0])


class TestGradFunction:
    def test_grad_returns_without_touching_dot_grad(self):
        x = leaf([1.0, 2.0])
        y = (x ** 2).sum()
        (g,) = ag.grad(y, x)
        np.testing.assert_allclose(g.data, [2.0, 4.0])
        assert x.grad is None

    def test_grad_wrt_intermediate(self):
        x = leaf([1.0, 2.0])
        h = x * 3
        y = (h * h).sum()
        gh, gx = ag.grad(y, [h, x])
        np.testing.assert_allclose(gh.data, 2 * h.data)
        np.testing.assert_allclose(gx.data, 18 * x.data)

    def test_unused_input(self):
        x, z = leaf([1.0]), leaf([2.0])
        y = x * 2
        with pytest.raises(RuntimeError, match="allow_unused"):
            ag.grad(y, [x, z])
        gx, gz = ag.grad(x * 2, [x, z], allow_unused=True)
        assert gz is None and gx.item() == 2.0

    def test_grad_computes_only_what_leads_to_the_inputs(self):
        seen = []

        class Spy(ag.Function):
            @staticmethod
            def forward(ctx, a, b):
                ctx.save_for_backward(a, b)
                return a * b

            @staticmethod
            def backward(ctx, g):
                seen.append(ctx.needs_input_grad)
                a, b = ctx.saved_tensors
                na, nb = ctx.needs_input_grad
                return (g * b if na else None), (g * a if nb else None)

        a, b = leaf([2.0]), leaf([3.0])
        w = leaf([5.0])
        y = Spy.apply(a * w, b.exp())  # the b branch does not lead to a
        (ga,) = ag.grad(y.sum(), a, retain_graph=True)
        np.testing.assert_allclose(ga.data, [5.0 * np.exp(3.0)])
        assert seen == [(True, False)]
        assert y.grad_fn.needs_input_grad == (True, True)  # restored after the pruned pass
        y.sum().backward()
        assert seen[-1] == (True, True)
        np.testing.assert_allclose(b.grad.data, [10.0 * np.exp(3.0)])

    def test_create_graph_gives_hessian_vector_product(self):
        rng = np.random.default_rng(0)
        A = rng.standard_normal((3, 3))
        A = A + A.T
        x = leaf(rng.standard_normal(3))
        v = rng.standard_normal(3)
        f = 0.5 * (x @ (ag.Tensor(A) @ x)) + x.sin().sum()
        (g,) = ag.grad(f, x, create_graph=True)
        np.testing.assert_allclose(g.data, A @ x.data + np.cos(x.data), rtol=1e-12)
        (hv,) = ag.grad((g * v).sum(), x)
        np.testing.assert_allclose(hv.data, A @ v - np.sin(x.data) * v, rtol=1e-12)

    def test_gradient_penalty_through_backward_with_create_graph(self):
        x = leaf([0.5, -0.3])
        y = (x ** 3).sum()
        y.backward(create_graph=True)
        penalty = (x.grad ** 2).sum()  # sum (3x^2)^2 = 9 x^4 -> d/dx = 36 x^3
        x.grad = None
        penalty.backward()
        np.testing.assert_allclose(x.grad.data, 36 * np.array([0.5, -0.3]) ** 3, rtol=1e-12)


class TestDeepAndMemory:
    def test_100k_op_chain_backward(self):
        x = ag.Tensor(np.float64(1.0), requires_grad=True)
        y = x
        for _ in range(50_000):
            y = y * 1.0001 + 0.0001
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(200)  # any recursion on depth would blow up
        try:
            y.backward()
        finally:
            sys.setrecursionlimit(limit)
        np.testing.assert_allclose(x.grad.data, 1.0001 ** 50_000, rtol=1e-9)
        del y  # dropping a deep graph must not recurse either

    def test_deep_value_chain(self):
        a = ag.Value(0.5)
        y = a
        for _ in range(30_000):
            y = y * 1.0 + 0.0
        y.backward()
        assert a.grad == pytest.approx(1.0)

    def test_no_reference_cycles(self):
        gc.collect()
        gc.disable()
        try:
            x = leaf(np.ones(4))
            y = (x.exp() * x).tanh()
            z = ag.softmax(y * 2, axis=0).sum()
            z.backward(retain_graph=True)
            refs = [weakref.ref(t) for t in (y, z)] + [weakref.ref(y.grad_fn),
                                                        weakref.ref(z.grad_fn)]
            del y, z
            assert all(r() is None for r in refs), "graph kept alive by a reference cycle"
            # saved outputs rebuilt inside backward do not create cycles either
            w = x.exp()
            (g,) = ag.grad(w.sum(), x, create_graph=True)
            ref = weakref.ref(w.grad_fn)
            del w, g
            assert ref() is None
        finally:
            gc.enable()

    def test_tensors_can_be_weakly_referenced(self):
        t = ag.Tensor([1.0])
        r = weakref.ref(t)
        assert r() is t


class TestInPlaceSafety:
    def test_editing_saved_data_is_caught(self):
        x = leaf([1.0, 2.0])
        y = (x * x).sum()
        x.data = x.data + 1  # a new array: the version counter moves
        with pytest.raises(RuntimeError, match="modified in place"):
            y.backward()


class TestCustomFunction:
    def test_cube_from_the_contract(self):
        x = leaf([2.0, -1.0])
        y = Cube.apply(x)
        assert y.grad_fn.name == "Cube"
        (g,) = ag.grad(y.sum(), x, create_graph=True)
        np.testing.assert_allclose(g.data, [12.0, 3.0])
        (h,) = ag.grad(g.sum(), x)
        np.testing.assert_allclose(h.data, [12.0, -6.0])

    def test_saved_output_is_differentiable(self):
        class MyExp(ag.Function):
            @staticmethod
            def forward(ctx, x):
                out = np.exp(x)
                ctx.save_for_backward(out)
                return out

            @staticmethod
            def backward(ctx, grad):
                (out,) = ctx.saved_tensors
                return grad * out

        x = leaf([0.3])
        (g,) = ag.grad(MyExp.apply(x).sum(), x, create_graph=True)
        (h,) = ag.grad(g.sum(), x)
        np.testing.assert_allclose(h.data, np.exp([0.3]))

    def test_multiple_outputs(self):
        class SplitHalves(ag.Function):
            @staticmethod
            def forward(ctx, x):
                n = x.shape[0] // 2
                return x[:n] * 1.0, x[n:] * 2.0

            @staticmethod
            def backward(ctx, ga, gb):
                return ag.concatenate([ga, gb * 2.0])

        x = leaf([1.0, 2.0, 3.0, 4.0])
        a, b = SplitHalves.apply(x)
        (a.sum() * 3 + (b * b).sum()).backward()
        np.testing.assert_allclose(x.grad.data, [3, 3, 2 * 6 * 2, 2 * 8 * 2])
        # one output unused: its gradient arrives as zeros
        x.grad = None
        a, b = SplitHalves.apply(x)
        b.sum().backward()
        np.testing.assert_allclose(x.grad.data, [0, 0, 2, 2])

    def test_broadcast_gradient_reduced_centrally(self):
        class AddRow(ag.Function):
            @staticmethod
            def forward(ctx, x, row):
                return x + row

            @staticmethod
            def backward(ctx, g):
                return g, g  # full-shape gradient for the row: the engine sums it back

        x = leaf(np.ones((3, 2)))
        row = leaf([1.0, 2.0])
        AddRow.apply(x, row).sum().backward()
        np.testing.assert_allclose(row.grad.data, [3.0, 3.0])


class TestLeafGradientOwnership:
    def test_user_gradient_array_is_not_adopted(self):
        x = leaf([1.0, 2.0])
        seed = np.array([1.0, 1.0])
        x.backward(seed)
        x.backward(seed)
        np.testing.assert_array_equal(seed, [1.0, 1.0])  # accumulation did not write into it
        np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])

    def test_broadcast_gradient_is_writable_and_private(self):
        a = leaf(np.ones((2, 3)))
        b = leaf(np.ones((2, 3)))
        (a + b).sum().backward()  # both get the same broadcast view of one gradient
        assert a.grad.data.flags.writeable and b.grad.data.flags.writeable
        a.grad.data[0, 0] = 100.0
        assert b.grad.data[0, 0] == 1.0
        (a + b).sum().backward()
        np.testing.assert_array_equal(b.grad.data, np.full((2, 3), 2.0))

    def test_fresh_gradient_is_adopted_without_copy_but_stays_private(self):
        w = leaf(np.ones((3, 2)))
        x = ag.Tensor(np.arange(6.0).reshape(2, 3))
        (x @ w).sum().backward()
        first = w.grad.data
        (x @ w).sum().backward()
        assert w.grad.data is first  # accumulated in place
        np.testing.assert_array_equal(first, 2 * (x.data.T @ np.ones((2, 2))))
