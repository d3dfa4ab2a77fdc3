"""Training helpers: a fit loop with a progress bar, validation, early stopping, history.

``fit(model, loss_fn, optimizer, (X, y), val_data=(Xv, yv), epochs=10)`` runs the usual
loop (zero_grad, forward, loss, backward, step) over shuffled mini-batches, evaluates on
the validation data after each epoch with gradients off and the model in eval mode, and
returns a :class:`History` of per-epoch losses and metrics that can plot itself.
"""

from __future__ import annotations

import functools
import io
import math
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from autograd import Tensor, no_grad

from .data import DataLoader, TensorDataset

__all__ = [
    "fit", "evaluate", "predict", "History", "EarlyStopping", "accuracy", "binary_accuracy",
    "binary_accuracy_logits", "METRICS",
]

Metric = Callable[[np.ndarray, np.ndarray], float]


# -- metrics -------------------------------------------------------------------------------
def accuracy(output: Any, target: Any) -> float:
    """Fraction of rows whose highest score (last axis) is the target class.

    ``target`` holds class indices, or one-hot / probability rows of the output's shape.
    """
    out, tgt = np.asarray(output), np.asarray(target)
    if out.ndim == 0 or out.shape[-1] < 2:
        raise ValueError(
            f"accuracy: needs class scores with at least 2 columns, got output shape "
            f"{out.shape}; for one output column use 'binary_accuracy' (probabilities, "
            f"threshold 0.5) or 'binary_accuracy_logits' (threshold 0)"
        )
    pred = out.argmax(axis=-1)
    if tgt.shape == out.shape:
        tgt = tgt.argmax(axis=-1)
    if tgt.shape != pred.shape:
        raise ValueError(
            f"accuracy: target shape {tgt.shape} matches neither the output {out.shape} nor "
            f"its class indices {pred.shape}"
        )
    return float((pred == tgt).mean()) if pred.size else 0.0


def binary_accuracy(output: Any, target: Any, threshold: float = 0.5) -> float:
    """Fraction of outputs on the target's side of ``threshold`` (targets 0 / 1)."""
    out, tgt = np.asarray(output), np.asarray(target)
    if out.size != tgt.size:
        raise ValueError(
            f"binary_accuracy: output shape {out.shape} and target shape {tgt.shape} "
            f"hold different numbers of values"
        )
    pred = out.reshape(-1) > threshold
    return float((pred == (tgt.reshape(-1) >= 0.5)).mean()) if pred.size else 0.0


def binary_accuracy_logits(output: Any, target: Any) -> float:
    """``binary_accuracy`` for raw scores (logits): positive means class 1."""
    return binary_accuracy(output, target, threshold=0.0)


METRICS: dict[str, Metric] = {
    "accuracy": accuracy,
    "binary_accuracy": binary_accuracy,
    "binary_accuracy_logits": binary_accuracy_logits,
}


def _metric_table(metrics: Any) -> dict[str, Metric]:
    if metrics is None:
        return {}
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    if isinstance(metrics, dict):
        items = list(metrics.items())
    else:
        items = []
        for m in metrics:
            if isinstance(m, str):
                if m not in METRICS:
                    raise ValueError(f"fit: unknown metric {m!r}; known: {sorted(METRICS)}")
                items.append((m, METRICS[m]))
            elif callable(m):
                items.append((getattr(m, "__name__", "metric"), m))
            else:
                raise TypeError(f"fit: a metric must be a name or a function, got {m!r}")
    table = dict(items)
    for name in table:
        if name == "loss" or name.startswith("val_"):
            raise ValueError(f"fit: metric name {name!r} is reserved")
    return table


# -- history -------------------------------------------------------------------------------
def _figure_type() -> type:
    """matplotlib's ``Figure`` made to show itself in notebooks (``_repr_png_``) without
    joining pyplot's global list of figures: scripts keep no state, notebooks show it once."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "History.plot needs matplotlib: pip install 'chaingrad[plot]' "
            "(or pip install matplotlib)"
        ) from exc
    return _showable(Figure)


@functools.cache
def _showable(figure: type) -> type:
    class HistoryFigure(figure):  # type: ignore[misc, valid-type]
        def _repr_png_(self) -> bytes:
            buffer = io.BytesIO()
            self.savefig(buffer, format="png", dpi=90)
            return buffer.getvalue()

    return HistoryFigure


class History:
    """Per-epoch records of a :func:`fit` run, Keras-style keys.

    ``history["loss"]``, ``history["accuracy"]``, ``history["val_loss"]``,
    ``history["val_accuracy"]`` (one float per epoch; validation keys only with
    validation data), ``seconds`` per epoch, and after early stopping ``best_epoch`` and
    ``stopped_epoch`` (1-based). ``plot()`` draws the loss and accuracy curves.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.seconds: list[float] = []
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None

    def record(self, values: dict[str, float], seconds: float) -> None:
        """Append one epoch's values."""
        for key, value in values.items():
            self.history.setdefault(key, []).append(float(value))
        self.seconds.append(float(seconds))

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return len(self.seconds)

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: object) -> bool:
        return key in self.history

    def keys(self) -> Iterable[str]:
        """The recorded series names."""
        return self.history.keys()

    @property
    def train_loss(self) -> list[float]:
        """Mean training loss of each epoch."""
        return self.history.get("loss", [])

    @property
    def val_loss(self) -> list[float]:
        """Validation loss after each epoch (empty without validation data)."""
        return self.history.get("val_loss", [])

    @property
    def train_accuracy(self) -> list[float]:
        """Training accuracy of each epoch (measured on the batches as they were trained)."""
        return self.history.get("accuracy", [])

    @property
    def val_accuracy(self) -> list[float]:
        """Validation accuracy after each epoch."""
        return self.history.get("val_accuracy", [])

    def to_dict(self) -> dict[str, Any]:
        """Plain Python data (for JSON)."""
        return {"history": {k: list(v) for k, v in self.history.items()},
                "seconds": list(self.seconds), "best_epoch": self.best_epoch,
                "stopped_epoch": self.stopped_epoch}

    def plot(self, path: str | os.PathLike[str] | None = None, title: str | None = None,
             val_label: str = "val") -> Any:
        """Loss curves (and accuracy curves when recorded) against the epoch.

        Returns the matplotlib ``Figure``; with ``path`` it is also saved there (the
        format follows the suffix, e.g. ``.png``). ``val_label`` names the validation
        curves in the legend. Needs matplotlib (the ``plot`` extra).
        """
        figure_type = _figure_type()
        if not self.epochs:
            raise ValueError("History.plot: nothing recorded yet")
        metric_names = [k for k in self.history if k != "loss" and not k.startswith("val_")]
        panels = ["loss", *metric_names]
        fig = figure_type(figsize=(5.0 * len(panels), 3.6), layout="constrained")
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        epochs = np.arange(1, self.epochs + 1)
        for ax, name in zip(axes, panels):
            ax.plot(epochs, self.history[name], marker=".", label=f"train {name}")
            if f"val_{name}" in self.history:
                ax.plot(epochs, self.history[f"val_{name}"], marker=".",
                        label=f"{val_label} {name}")
            if self.best_epoch is not None:
                ax.axvline(self.best_epoch, color="grey", linestyle=":", label="best epoch")
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.grid(alpha=0.3)
            ax.legend()
        if title:
            fig.suptitle(title)
        if path is not None:
            fig.savefig(path, dpi=110)
        return fig

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if v)
        return f"History({self.epochs} epochs{': ' + last if last else ''})"


# -- early stopping ------------------------------------------------------------------------
class EarlyStopping:
    """Stop when the monitored value has not improved for ``patience`` epochs in a row.

    An improvement means beating the best value so far by more than ``min_delta``
    (downwards for losses, upwards otherwise; ``mode`` may say "min" or "max"). With
    ``restore_best`` the model gets back the weights of its best epoch when training ends.
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, restore_best: bool = True,
                 monitor: str = "val_loss", mode: str = "auto") -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(
                f"EarlyStopping: patience must be a positive integer, got {patience!r}"
            )
        if not min_delta >= 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta!r}")
        if mode == "auto":
            mode = "min" if "loss" in monitor else "max"
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.patience = patience
        self.min_delta = float(min_delta)
        self.restore_best = restore_best
        self.monitor = monitor
        self.mode = mode
        self.reset()

    def reset(self) -> None:
        """Forget the run so far (``fit`` calls this at its start)."""
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.best_state: dict[str, np.ndarray] | None = None
        self.wait = 0
        self.epoch = 0

    def _improves(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def step(self, value: float, model: Any = None) -> bool:
        """Record one epoch's value (and the model's weights if it is the best so far);
        return True when training should stop."""
        self.epoch += 1
        value = float(value)
        if self._improves(value):
            self.best, self.best_epoch, self.wait = value, self.epoch, 0
            if self.restore_best and model is not None:
                self.best_state = model.state_dict()
            return False
        self.wait += 1
        return self.wait >= self.patience

    def restore(self, model: Any) -> bool:
        """Load the best weights into ``model``; False when there is nothing to restore."""
        if self.best_state is None:
            return False
        model.load_state_dict(self.best_state)
        return True

    def __repr__(self) -> str:
        return (f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
                f"min_delta={self.min_delta}, restore_best={self.restore_best})")


# -- the loop --------------------------------------------------------------------------------
def _loader(data: Any, batch_size: int, shuffle: bool, rng: Any, what: str) -> DataLoader:
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, (tuple, list)) and len(data) >= 2 and all(
            isinstance(d, (np.ndarray, Tensor)) for d in data):
        return DataLoader(TensorDataset(*data), batch_size, shuffle=shuffle, rng=rng)
    if hasattr(data, "__len__") and hasattr(data, "__getitem__"):
        return DataLoader(data, batch_size, shuffle=shuffle, rng=rng)
    raise TypeError(
        f"fit: {what} must be an (X, y) pair of arrays or Tensors, a dataset or a "
        f"DataLoader; got {type(data).__name__}"
    )


def _split(batch: Any, what: str) -> tuple[tuple[Any, ...], Any]:
    if not isinstance(batch, tuple) or len(batch) < 2:
        raise ValueError(f"fit: each {what} batch must be (inputs..., target), got {batch!r:.80}")
    return batch[:-1], batch[-1]


class _Meter:
    """Sample-weighted running means of the loss and the metrics."""

    def __init__(self, metrics: dict[str, Metric]) -> None:
        self.metrics = metrics
        self.n = 0
        self.sums = dict.fromkeys(["loss", *metrics], 0.0)

    def add(self, loss: float, output: Tensor, target: Tensor) -> None:
        n = len(target) if target.ndim else 1
        self.n += n
        self.sums["loss"] += loss * n
        out, tgt = output.data, target.data
        for name, fn in self.metrics.items():
            self.sums[name] += float(fn(out, tgt)) * n

    def means(self, prefix: str = "") -> dict[str, float]:
        return {prefix + k: v / max(self.n, 1) for k, v in self.sums.items()}


def evaluate(model: Any, loss_fn: Callable[[Tensor, Tensor], Tensor], data: Any,
             batch_size: int = 1024, metrics: Any = ("accuracy",)) -> dict[str, float]:
    """Mean loss and metrics of ``model`` on ``data``, in eval mode and without a graph.

    The model's previous train / eval mode is restored afterwards.
    """
    loader = _loader(data, batch_size, False, None, "data")
    meter = _Meter(_metric_table(metrics))
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with no_grad():
            for batch in loader:
                inputs, target = _split(batch, "evaluation")
                output = model(*inputs)
                meter.add(float(loss_fn(output, target).item()), output, target)
    finally:
        model.train(was_training)
    return meter.means()


def predict(model: Any, X: Any, batch_size: int = 1024) -> np.ndarray:
    """The model's outputs for the rows of ``X`` as one numpy array (eval mode, no graph)."""
    data = X.data if isinstance(X, Tensor) else np.asarray(X)
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with no_grad():
            parts = [model(Tensor(data[i:i + batch_size])).data
                     for i in range(0, len(data), batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(parts) if parts else np.zeros((0,))


def _fmt(values: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.4f}" for k, v in values.items())


def fit(
    model: Any,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    optimizer: Any,
    train_data: Any,
    val_data: Any = None,
    *,
    epochs: int = 10,
    batch_size: int = 32,
    metrics: Any = ("accuracy",),
    early_stopping: EarlyStopping | None = None,
    scheduler: Any = None,
    shuffle: bool = True,
    rng: np.random.Generator | int | None = None,
    progress: bool = True,
    verbose: bool = False,
    eval_batch_size: int = 1024,
) -> History:
    """Train ``model`` and return its :class:`History`.

    - ``train_data`` / ``val_data``: an ``(X, y)`` pair of arrays or Tensors, a dataset,
      or a ready ``DataLoader``; batches are ``(inputs..., target)``.
    - ``loss_fn(output, target)`` returns a scalar Tensor averaged over the batch (the
      epoch loss is the sample-weighted mean of the batch losses).
    - ``metrics``: names from ``METRICS`` ("accuracy", ...) or functions
      ``f(output_array, target_array) -> float``; the training figures are measured on
      the batches as they were trained, the validation ones after each epoch.
    - ``rng`` (seed or Generator) drives the shuffling, so a seeded run repeats exactly.
    - ``early_stopping``: an :class:`EarlyStopping`; best weights are restored at the end.
    - ``scheduler``: anything with ``step()``, called once after each epoch.
    - ``progress`` shows a tqdm bar (loss and metrics in its postfix); ``verbose`` also
      prints one summary line per epoch.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"fit: epochs must be a positive integer, got {epochs!r}")
    table = _metric_table(metrics)
    loader = _loader(train_data, batch_size, shuffle, rng, "train_data")
    val_loader = None if val_data is None else _loader(
        val_data, eval_batch_size, False, None, "val_data")
    if early_stopping is not None:
        early_stopping.reset()
        if early_stopping.monitor.startswith("val_") and val_loader is None:
            raise ValueError(
                f"fit: EarlyStopping monitors {early_stopping.monitor!r} but no val_data was "
                f"given; pass val_data or EarlyStopping(monitor='loss')"
            )
    history = History()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs * len(loader), unit="batch", dynamic_ncols=True, leave=True)
    shown: dict[str, float] = {}
    try:
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            meter = _Meter(table)
            model.train()
            if bar is not None:
                bar.set_description(f"epoch {epoch}/{epochs}")
            for step, batch in enumerate(loader, 1):
                inputs, target = _split(batch, "training")
                optimizer.zero_grad()
                output = model(*inputs)
                loss = loss_fn(output, target)
                value = float(loss.item())
                if not math.isfinite(value):
                    raise FloatingPointError(
                        f"fit: the loss became {value} at epoch {epoch}, batch {step}; "
                        f"try a smaller learning rate"
                    )
                loss.backward()
                optimizer.step()
                meter.add(value, output, target)
                if bar is not None:
                    bar.update(1)
                    if step % 10 == 0 or step == len(loader):
                        shown.update(meter.means())
                        bar.set_postfix({k: f"{v:.4f}" for k, v in shown.items()}, refresh=False)
            record = meter.means()
            if val_loader is not None:
                record.update({f"val_{k}": v for k, v in
                               evaluate(model, loss_fn, val_loader, metrics=table).items()})
            if scheduler is not None:
                scheduler.step()
            history.record(record, time.perf_counter() - start)
            if bar is not None:
                shown.update(record)
                bar.set_postfix({k: f"{v:.4f}" for k, v in shown.items()})
            if verbose:
                line = f"epoch {epoch:>{len(str(epochs))}}/{epochs}  {_fmt(record)}"
                if bar is not None:
                    bar.write(line)
                else:
                    print(line, flush=True)
            if early_stopping is not None:
                if early_stopping.monitor not in record:
                    raise ValueError(
                        f"fit: EarlyStopping monitors {early_stopping.monitor!r}, which is "
                        f"not recorded (recorded: {', '.join(record)})"
                    )
                if early_stopping.step(record[early_stopping.monitor], model):
                    history.stopped_epoch = epoch
                    break
    finally:
        if bar is not None:
            bar.close()
    if early_stopping is not None:
        history.best_epoch = early_stopping.best_epoch
        if early_stopping.restore_best:
            early_stopping.restore(model)
    return history
