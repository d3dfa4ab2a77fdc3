"""nn.train: the fit loop's bookkeeping (exact), early stopping that restores the best
weights, reproducibility, metrics, progress output and the history plot."""

import sys

import numpy as np
import pytest

from nn import MLP, Linear, Sequential, optim
from nn import functional as F
from nn.data import DataLoader, TensorDataset
from nn.train import (
    EarlyStopping,
    History,
    accuracy,
    binary_accuracy,
    binary_accuracy_logits,
    evaluate,
    fit,
    predict,
)


class PlainSGD:
    """p -= lr * grad, written here so the loop is tested apart from nn.optim."""

    def __init__(self, params, lr):
        self.params, self.lr = list(params), lr

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        for p in self.params:
            if p.grad is not None:
                p.data = p.data - self.lr * p.grad.data


def softmax_ce(logits, y):
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean()


def toy(n=23, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    y = rng.integers(0, 4, n)
    return X, y


# -- bookkeeping ---------------------------------------------------------------------------
def test_with_zero_learning_rate_epoch_figures_are_the_full_data_figures():
    X, y = toy(23)
    Xv, yv = toy(11, seed=1)
    model = Linear(3, 4, dtype=np.float64, rng=0)
    h = fit(model, F.cross_entropy, PlainSGD(model.parameters(), 0.0), (X, y), (Xv, yv),
            epochs=2, batch_size=5, progress=False, rng=0)
    W, b = model.weight.data, model.bias.data
    train_logits, val_logits = X @ W.T + b, Xv @ W.T + b
    for key, expected in (("loss", softmax_ce(train_logits, y)),
                          ("val_loss", softmax_ce(val_logits, yv)),
                          ("accuracy", (train_logits.argmax(1) == y).mean()),
                          ("val_accuracy", (val_logits.argmax(1) == yv).mean())):
        assert h[key] == pytest.approx([expected] * 2, rel=1e-12, abs=1e-12)
    assert set(h.keys()) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert h.epochs == 2 and len(h.seconds) == 2
    assert h.train_loss == h["loss"] and h.val_accuracy == h["val_accuracy"]


def test_one_full_batch_epoch_is_one_gradient_step():
    X, y = toy(16)
    model = Linear(3, 4, dtype=np.float64, rng=0)
    W0, b0 = model.weight.data.copy(), model.bias.data.copy()
    fit(model, F.cross_entropy, PlainSGD(model.parameters(), 0.5), (X, y), epochs=1,
        batch_size=16, progress=False)
    z = X @ W0.T + b0
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(16), y] -= 1
    np.testing.assert_allclose(model.weight.data, W0 - 0.5 * p.T @ X / 16, rtol=1e-12)
    np.testing.assert_allclose(model.bias.data, b0 - 0.5 * p.mean(0), rtol=1e-12)


def test_seeded_runs_repeat_exactly():
    X, y = toy(40)

    def run():
        model = MLP([3, 8, 4], rng=1)
        h = fit(model, F.cross_entropy, optim.Adam(model.parameters(), lr=0.01), (X, y),
                epochs=3, batch_size=7, rng=5, progress=False)
        return h, model.state_dict()

    (h1, s1), (h2, s2) = run(), run()
    assert h1["loss"] == h2["loss"]
    assert all(np.array_equal(s1[k], s2[k]) for k in s1)


def test_mlp_learns_xor_through_fit():
    from nn import datasets

    X, y = datasets.xor()
    model = MLP([2, 8, 2], activation="tanh", rng=0)
    h = fit(model, F.cross_entropy, optim.Adam(model.parameters(), lr=0.05), (X, y),
            epochs=150, batch_size=4, progress=False)
    assert h["accuracy"][-1] == 1.0 and h["loss"][-1] < 0.05
    assert predict(model, X).argmax(1).tolist() == [0, 1, 1, 0]


def test_inputs_may_be_a_dataset_or_a_loader_and_scheduler_steps_per_epoch():
    X, y = toy(12)

    class Counter:
        steps = 0

        def step(self):
            Counter.steps += 1

    model = Linear(3, 4, rng=0)
    sgd = PlainSGD(model.parameters(), 0.1)
    fit(model, F.cross_entropy, sgd, TensorDataset(X.astype(np.float32), y), epochs=2,
        batch_size=5, progress=False, scheduler=Counter())
    fit(model, F.cross_entropy, sgd, DataLoader(TensorDataset(X.astype(np.float32), y), 4),
        epochs=3, progress=False, scheduler=Counter())
    assert Counter.steps == 5
    with pytest.raises(TypeError, match="train_data"):
        fit(model, F.cross_entropy, sgd, 42, epochs=1, progress=False)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, F.cross_entropy, sgd, (X, y), epochs=0, progress=False)


def test_custom_metrics_and_unknown_names():
    X, y = toy(10)
    model = Linear(3, 4, dtype=np.float64, rng=0)

    def first_class_rate(out, target):
        return float((out.argmax(1) == 0).mean())

    h = fit(model, F.cross_entropy, PlainSGD(model.parameters(), 0.0), (X, y), (X, y),
            epochs=1, batch_size=3, metrics=[first_class_rate], progress=False)
    expected = ((X @ model.weight.data.T + model.bias.data).argmax(1) == 0).mean()
    assert h["first_class_rate"][0] == pytest.approx(expected)
    assert h["val_first_class_rate"][0] == pytest.approx(expected)
    with pytest.raises(ValueError, match="unknown metric 'acc'"):
        fit(model, F.cross_entropy, PlainSGD(model.parameters(), 0.0), (X, y),
            metrics=["acc"], progress=False)


def test_a_diverging_loss_stops_with_a_clear_error():
    X, y = toy(8)
    model = Linear(3, 4, dtype=np.float64, rng=0)
    model.weight.data = np.full((4, 3), np.nan)
    with pytest.raises(FloatingPointError, match="epoch 1, batch 1"):
        fit(model, F.cross_entropy, PlainSGD(model.parameters(), 0.1), (X, y), epochs=1,
            progress=False)


def test_evaluate_builds_no_graph_and_restores_the_mode():
    X, y = toy(9)
    model = Sequential(Linear(3, 4, rng=0))
    model.train()
    result = evaluate(model, F.cross_entropy, (X.astype(np.float32), y), batch_size=4)
    assert model.training and all(p.grad is None for p in model.parameters())
    logits = X.astype(np.float32) @ model[0].weight.data.T + model[0].bias.data
    assert result["loss"] == pytest.approx(softmax_ce(logits.astype(np.float64), y), rel=1e-5)
    model.eval()
    predict(model, X.astype(np.float32), batch_size=2)
    assert not model.training


# -- progress output ---------------------------------------------------------------------------
def test_progress_bar_and_epoch_lines(capsys):
    X, y = toy(20)
    model = Linear(3, 4, rng=0)
    fit(model, F.cross_entropy, PlainSGD(model.parameters(), 0.1), (X.astype(np.float32), y),
        (X.astype(np.float32), y), epochs=2, batch_size=5, progress=True, verbose=True)
    out, err = capsys.readouterr()
    assert "epoch 2/2" in err and "loss" in err and "batch" in err
    lines = [ln for ln in out.splitlines() if ln.startswith("epoch")]
    assert len(lines) == 2 and "val_accuracy" in lines[1]
    fit(model, F.cross_entropy, PlainSGD(model.parameters(), 0.1), (X.astype(np.float32), y),
        epochs=1, progress=False)
    assert capsys.readouterr() == ("", "")


# -- metrics ---------------------------------------------------------------------------------
def test_accuracy_helpers():
    out = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert accuracy(out, np.array([1, 0, 0, 1])) == 0.5
    assert accuracy(out, np.eye(2)[[1, 0, 1, 0]]) == 1.0
    assert binary_accuracy(np.array([0.2, 0.7, 0.5]), np.array([0, 1, 1])) == pytest.approx(2 / 3)
    assert binary_accuracy_logits(np.array([[-1.0], [2.0]]), np.array([[0.0], [0.0]])) == 0.5
    with pytest.raises(ValueError, match="binary_accuracy"):
        accuracy(np.zeros((3, 1)), np.zeros(3))
    with pytest.raises(ValueError, match="target shape"):
        accuracy(out, np.zeros(3))


# -- early stopping --------------------------------------------------------------------------
def test_early_stopping_restores_the_weights_of_the_best_epoch():
    """y = w x trained towards w = 2 while the validation data says w = 1: the validation
    loss falls while w approaches 1, then rises. Full-batch SGD is exact to follow:
    w <- w - lr * 2 (w - 2) mean(x^2)."""
    x = np.linspace(-1, 1, 9).reshape(-1, 1)
    model = Linear(1, 1, bias=False, dtype=np.float64, rng=0)
    model.weight.data = np.zeros((1, 1))
    lr, m2 = 0.2, float((x ** 2).mean())
    stopper = EarlyStopping(patience=3, min_delta=0.0)
    h = fit(model, F.mse_loss, PlainSGD(model.parameters(), lr), (x, 2 * x), (x, 1 * x),
            epochs=100, batch_size=9, metrics=None, early_stopping=stopper, progress=False)
    w, ws, val = 0.0, [], []
    for _ in range(h.epochs):
        w -= lr * 2 * (w - 2) * m2
        ws.append(w)
        val.append((w - 1) ** 2 * m2)
    np.testing.assert_allclose(h["val_loss"], val, rtol=1e-10)
    best = int(np.argmin(val))
    assert 0 < best < h.epochs - 1, "the validation loss must first fall, then rise"
    assert h.best_epoch == best + 1 == stopper.best_epoch
    assert h.stopped_epoch == h.epochs == best + 1 + 3 < 100
    assert model.weight.data[0, 0] == pytest.approx(ws[best], rel=1e-12)
    assert abs(ws[-1] - 1) > abs(ws[best] - 1)


def test_early_stopping_without_restore_keeps_the_last_weights():
    x = np.linspace(-1, 1, 9).reshape(-1, 1)
    model = Linear(1, 1, bias=False, dtype=np.float64, rng=0)
    model.weight.data = np.zeros((1, 1))
    stopper = EarlyStopping(patience=2, restore_best=False)
    h = fit(model, F.mse_loss, PlainSGD(model.parameters(), 0.2), (x, 2 * x), (x, x),
            epochs=100, batch_size=9, metrics=None, early_stopping=stopper, progress=False)
    assert h.stopped_epoch is not None and stopper.best_state is None
    assert model.weight.data[0, 0] > 1.2


def test_early_stopping_counts_patience_and_min_delta():
    es = EarlyStopping(patience=2, min_delta=0.1)
    assert [es.step(v) for v in [1.0, 0.95, 0.85, 0.84, 0.9]] == [False, False, False, False,
                                                                  True]
    assert es.best == 0.85 and es.best_epoch == 3
    up = EarlyStopping(patience=1, monitor="val_accuracy")
    assert up.mode == "max"
    assert [up.step(v) for v in [0.5, 0.7, 0.6]] == [False, False, True]
    nan = EarlyStopping(patience=1)
    assert nan.step(float("nan")) is True and not nan.restore(Linear(1, 1))
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="lowest")


def test_early_stopping_needs_what_it_monitors():
    X, y = toy(6)
    model = Linear(3, 4, dtype=np.float64, rng=0)
    sgd = PlainSGD(model.parameters(), 0.1)
    with pytest.raises(ValueError, match="no val_data"):
        fit(model, F.cross_entropy, sgd, (X, y), early_stopping=EarlyStopping(), progress=False)
    with pytest.raises(ValueError, match="not recorded"):
        fit(model, F.cross_entropy, sgd, (X, y), early_stopping=EarlyStopping(monitor="f1"),
            progress=False)
    h = fit(model, F.cross_entropy, sgd, (X, y), epochs=3, progress=False,
            early_stopping=EarlyStopping(monitor="loss", patience=5))
    assert h.epochs == 3 and h.stopped_epoch is None and h.best_epoch is not None


# -- history and its plot ------------------------------------------------------------------------
def test_history_plot_draws_loss_and_accuracy(tmp_path):
    pytest.importorskip("matplotlib")
    h = History()
    for i in range(4):
        h.record({"loss": 1 / (i + 1), "accuracy": 0.5 + i / 10, "val_loss": 1.2 / (i + 1),
                  "val_accuracy": 0.4 + i / 10}, 0.01)
    h.best_epoch = 3
    fig = h.plot(tmp_path / "curves.png", title="toy")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_ylabel() == "loss" and acc_ax.get_ylabel() == "accuracy"
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), h["loss"])
    np.testing.assert_allclose(acc_ax.lines[1].get_ydata(), h["val_accuracy"])
    assert h.to_dict()["history"]["loss"] == h["loss"] and "4 epochs" in repr(h)
    # notebooks show it through _repr_png_; it never joins pyplot's figure list
    assert fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.canvas.manager is None


def test_history_plot_without_matplotlib_says_how_to_get_it(monkeypatch):
    h = History()
    h.record({"loss": 1.0}, 0.1)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"chaingrad\[plot\]"):
        h.plot()


def test_empty_history_refuses_to_plot():
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match="nothing recorded"):
        History().plot()
