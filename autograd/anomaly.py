"""``detect_anomaly``: stop at the first NaN/inf, naming the op and where it was created.

While it is on, every op records the user's source line that created it, checks its
forward output, and every backward checks the gradients it returns; a NaN or inf raises
``FloatingPointError`` with the op's name and that line. It slows ops down (a stack walk
per op), so it is for debugging, not training.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from .engine import grad_mode

F = TypeVar("F", bound=Callable[..., Any])


class detect_anomaly:
    """Context manager and decorator turning anomaly detection on (or off with
    ``detect_anomaly(False)``); nestable, the previous state comes back on exit."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = bool(enabled)
        self._prev: list[bool] = []

    def __enter__(self) -> detect_anomaly:
        self._prev.append(grad_mode.anomaly)
        grad_mode.anomaly = self.enabled
        return self

    def __exit__(self, *exc: object) -> None:
        grad_mode.anomaly = self._prev.pop()

    def __call__(self, func: F) -> F:
        enabled = self.enabled

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly(enabled):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def is_anomaly_enabled() -> bool:
    """True while ``detect_anomaly`` is active."""
    return grad_mode.anomaly
