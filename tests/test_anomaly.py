"""detect_anomaly: NaN/inf in forward or backward raises FloatingPointError naming the op
and the line of this file that created it."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import autograd as ag
from autograd.engine import grad_mode

HERE = __file__


def _line_of(marker: str) -> int:
    """The line number in this file of the source line containing ``marker``."""
    lines, _ = inspect.getsourcelines(inspect.getmodule(_line_of))
    hits = [i + 1 for i, text in enumerate(lines) if f"# {marker}" in text]
    assert len(hits) == 1, f"marker {marker!r} found on lines {hits}"
    return hits[0]


def _assert_names(exc: pytest.ExceptionInfo, op: str, marker: str) -> None:
    msg = str(exc.value)
    assert op in msg, msg
    assert f'File "{HERE}", line {_line_of(marker)}' in msg, msg
    assert marker in msg, msg  # the source text of the line is shown too


def test_log_of_zero_in_forward_names_log_and_the_line() -> None:
    x = ag.Tensor(np.array([1.0, 0.0]), requires_grad=True)
    with ag.detect_anomaly(), np.errstate(divide="ignore"):
        with pytest.raises(FloatingPointError) as exc:
            x.log()  # MARK-forward-log
    _assert_names(exc, "Log produced NaN/inf in its forward output", "MARK-forward-log")


def test_forward_check_also_without_a_graph() -> None:
    x = ag.Tensor(np.array([-1.0, 4.0]))  # no requires_grad: no node is recorded
    with ag.detect_anomaly(), np.errstate(invalid="ignore"):
        with pytest.raises(FloatingPointError) as exc:
            ag.sqrt(x)  # MARK-nograd-sqrt
    _assert_names(exc, "Sqrt produced NaN/inf", "MARK-nograd-sqrt")


def test_sqrt_backward_at_zero_names_sqrt_not_its_inner_ops() -> None:
    x = ag.Tensor(np.array([0.0, 4.0]), requires_grad=True)
    with ag.detect_anomaly():
        y = x.sqrt()  # MARK-sqrt
        loss = (y * 2.0).sum()
        with pytest.raises(FloatingPointError) as exc:
            loss.backward()
    _assert_names(exc, "Sqrt.backward produced NaN/inf in the gradient of input 0",
                  "MARK-sqrt")


def test_masked_nan_inside_a_backward_is_not_an_anomaly() -> None:
    # sqrt's backward computes g * 0.5 / sqrt(x), which is 0/0 = nan at x = 0 where the
    # incoming g is 0, and masks it to 0: the gradient it returns is finite, so anomaly
    # mode must stay quiet about the intermediate.
    x = ag.Tensor(np.array([0.0, 4.0]), requires_grad=True)
    mask = np.array([False, True])
    with ag.detect_anomaly():
        loss = ag.where(mask, x.sqrt(), 0.0).sum()
        loss.backward()
    np.testing.assert_allclose(x.grad.data, [0.0, 0.25])


class NanBackward(ag.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2.0

    @staticmethod
    def backward(ctx, grad):
        return grad * float("nan")


def test_custom_function_whose_backward_returns_nan() -> None:
    x = ag.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    with ag.detect_anomaly():
        y = NanBackward.apply(x)  # MARK-custom
        with pytest.raises(FloatingPointError) as exc:
            y.sum().backward()
    _assert_names(exc, "NanBackward.backward produced NaN/inf", "MARK-custom")
    assert "(shape (3,))" in str(exc.value)


def test_nan_in_double_backward_is_caught() -> None:
    x = ag.Tensor(np.array([0.0, 1.0]), requires_grad=True)
    with ag.detect_anomaly():
        y = (x ** 1.5).sum()  # MARK-pow
        (g,) = ag.grad(y, x, create_graph=True)  # 1.5 x^0.5: finite at 0
        with pytest.raises(FloatingPointError) as exc:
            g.sum().backward()  # 0.75 x^-0.5: inf at 0
    assert "NaN/inf" in str(exc.value)
    assert "backward produced" in str(exc.value)


def test_without_anomaly_mode_nothing_is_raised() -> None:
    x = ag.Tensor(np.array([0.0, 4.0]), requires_grad=True)
    x.sqrt().sum().backward()
    assert np.isinf(x.grad.data[0])


def test_context_restores_and_nests() -> None:
    assert grad_mode.anomaly is False
    with ag.detect_anomaly():
        assert grad_mode.anomaly is True
        with ag.detect_anomaly(False):
            assert grad_mode.anomaly is False
        assert grad_mode.anomaly is True
    assert grad_mode.anomaly is False
    with pytest.raises(ZeroDivisionError), ag.detect_anomaly():
        1 / 0  # noqa: B018 - an error inside the block
    assert grad_mode.anomaly is False


def test_decorator_form() -> None:
    @ag.detect_anomaly()
    def step(t: ag.Tensor) -> ag.Tensor:
        assert grad_mode.anomaly is True
        return t.log()  # MARK-decorated

    assert grad_mode.anomaly is False
    with np.errstate(divide="ignore"), pytest.raises(FloatingPointError) as exc:
        step(ag.Tensor(np.array([0.0]), requires_grad=True))
    _assert_names(exc, "Log produced", "MARK-decorated")
    assert grad_mode.anomaly is False


def test_op_created_inside_nn_reports_the_callers_line() -> None:
    nn = pytest.importorskip("nn")
    pred = ag.Tensor(np.array([1e200, 1.0]), requires_grad=True)
    target = np.zeros(2)
    with ag.detect_anomaly(), np.errstate(over="ignore"):
        with pytest.raises(FloatingPointError) as exc:
            nn.functional.mse_loss(pred, target)  # MARK-nn
    _assert_names(exc, "produced NaN/inf", "MARK-nn")
    assert "nn/functional.py" in str(exc.value)  # the library line is named too
