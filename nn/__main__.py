"""The main job: ``python -m nn train`` (or ``chaingrad train``) trains an MLP.

By default it trains on the 5,000 MNIST digits shipped with the package, holding out
1,000 of them (seeded, stratified) as the test set, prints the test accuracy, and saves
the model, its configuration, the history and a loss-curve plot in a run directory.
``python -m nn evaluate RUN_DIR_OR_MODEL`` scores a saved model on its test set again.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autograd import Tensor

from . import datasets, optim
from . import functional as F
from .data import DataLoader, TensorDataset
from .io import load, save
from .layers import MLP
from .train import fit, predict


@dataclass(frozen=True)
class Recipe:
    """A dataset and the defaults that train it well."""

    hidden: tuple[int, ...]
    epochs: int
    batch_size: int
    optimizer: str
    lr: float
    weight_decay: float
    dropout: float
    test_size: float | int | None  # None: no held-out rows (xor's 4 rows are all there is)
    image_shape: tuple[int, int] | None = None  # set: augment with random_affine


RECIPES: dict[str, Recipe] = {
    "mnist": Recipe((512, 256), 30, 128, "adamw", 2e-3, 1e-2, 0.2, 1000, (28, 28)),
    "digits": Recipe((64,), 30, 32, "adam", 3e-3, 0.0, 0.0, 0.2),
    "spiral": Recipe((64, 64), 60, 32, "adam", 1e-2, 0.0, 0.0, 0.2),
    "moons": Recipe((32, 32), 40, 32, "adam", 1e-2, 0.0, 0.0, 0.2),
    "xor": Recipe((8,), 300, 4, "adam", 3e-2, 0.0, 0.0, None),
}

OPTIMIZERS: dict[str, Callable[..., Any]] = {
    "sgd": lambda ps, lr, wd: optim.SGD(ps, lr=lr, weight_decay=wd),
    "momentum": lambda ps, lr, wd: optim.SGD(ps, lr=lr, momentum=0.9, weight_decay=wd),
    "adam": lambda ps, lr, wd: optim.Adam(ps, lr=lr, weight_decay=wd),
    "adamw": lambda ps, lr, wd: optim.AdamW(ps, lr=lr, weight_decay=wd),
    "rmsprop": lambda ps, lr, wd: optim.RMSprop(ps, lr=lr, weight_decay=wd),
    "adagrad": lambda ps, lr, wd: optim.Adagrad(ps, lr=lr, weight_decay=wd),
}


@dataclass
class Split:
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    note: str = ""


def make_split(name: str, seed: int) -> Split:
    """Load (or generate) a dataset and hold out its test part, both seeded by ``seed``,
    so that ``evaluate`` can rebuild exactly the same test set."""
    data_seed, split_seed = np.random.SeedSequence(seed).spawn(2)
    if name == "mnist":
        X, y = datasets.mnist()
    elif name == "digits":
        X, y = datasets.digits()
    elif name == "spiral":
        X, y = datasets.spiral(200, 3, 0.2, rng=np.random.default_rng(data_seed))
    elif name == "moons":
        X, y = datasets.moons(1000, 0.15, rng=np.random.default_rng(data_seed))
    elif name == "xor":
        X, y = datasets.xor()
        return Split(X, y, X, y, 2, "xor has only 4 rows: they are the training and the test set")
    else:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(RECIPES)}")
    Xtr, Xte, ytr, yte = datasets.train_test_split(
        X, y, test_size=RECIPES[name].test_size, rng=np.random.default_rng(split_seed))
    return Split(Xtr, ytr, Xte, yte, int(y.max()) + 1)


def parse_sizes(text: str | None, n_in: int, n_out: int, default: Sequence[int]) -> list[int]:
    """``--sizes``: the full layer list ``784,256,10`` (it starts with the input width and
    ends with the number of classes) or just the hidden widths ``256`` / ``256,128``."""
    if text is None:
        return [n_in, *default, n_out]
    try:
        sizes = [int(s) for s in text.replace(" ", "").split(",") if s]
    except ValueError:
        raise SystemExit(f"--sizes: expected comma-separated integers, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise SystemExit(f"--sizes: sizes must be positive, got {text!r}")
    if len(sizes) >= 2 and sizes[0] == n_in and sizes[-1] == n_out:
        return sizes
    return [n_in, *sizes, n_out]


def limit_blas_threads(n: int) -> bool:
    """Ask the BLAS library under numpy to use ``n`` threads; True if it could be done.

    The job's matrices are small (a batch times a layer), where a second BLAS thread gains
    little on an idle machine and costs a lot on a busy one: threads that wait for each
    other on every matmul are slowed tenfold when other processes hold the cores. Uses
    threadpoolctl when installed, else OpenBLAS's own setter (the BLAS of numpy's wheels).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(limits=n, user_api="blas")
        return True
    try:
        with open("/proc/self/maps") as maps:
            libs = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return False
    for lib in libs:
        try:
            handle = ctypes.CDLL(lib)
        except OSError:
            continue
        for symbol in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                       "openblas_set_num_threads64_", "openblas_set_num_threads"):
            setter = getattr(handle, symbol, None)
            if setter is not None:
                setter(ctypes.c_int(n))
                return True
    return False


def _run_dir(out: str | None, dataset: str) -> Path:
    if out is not None:
        path = Path(out)
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path("runs") / f"{dataset}-{stamp}"
        k = 1
        while path.exists():
            path, k = Path("runs") / f"{dataset}-{stamp}-{k}", k + 1
    path.mkdir(parents=True, exist_ok=True)
    return path


def _augment_transform(shape: tuple[int, int], rng: np.random.Generator) -> Callable:
    """Each training batch gets fresh random rotations, zooms and shifts."""

    def transform(batch: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        xb, *rest = batch
        return (Tensor(datasets.random_affine(xb.data, rng, shape)), *rest)

    return transform


def _accuracy_line(model: Any, split: Split) -> tuple[float, int, float]:
    scores = predict(model, split.X_test)
    correct = int((scores.argmax(axis=1) == split.y_test).sum())
    loss = float(F.cross_entropy(Tensor(scores), Tensor(split.y_test)).item())
    return correct / len(split.y_test), correct, loss


def cmd_train(args: argparse.Namespace) -> int:
    """Train, report the test accuracy, save model, config, history and plot."""
    recipe = RECIPES[args.dataset]
    if args.threads is not None:
        if args.threads < 1:
            raise SystemExit(f"--threads must be a positive integer, got {args.threads}")
        limit_blas_threads(args.threads)
    seed = args.seed
    split = make_split(args.dataset, seed)
    sizes = parse_sizes(args.sizes, split.X_train.shape[1], split.n_classes, recipe.hidden)
    epochs = args.epochs if args.epochs is not None else recipe.epochs
    batch_size = args.batch_size if args.batch_size is not None else recipe.batch_size
    opt_name = args.optimizer or recipe.optimizer
    lr = args.lr if args.lr is not None else recipe.lr
    wd = args.weight_decay if args.weight_decay is not None else (
        recipe.weight_decay if opt_name == recipe.optimizer else 0.0)
    dropout = args.dropout if args.dropout is not None else recipe.dropout
    for name, value in (("--epochs", epochs), ("--batch-size", batch_size)):
        if value < 1:
            raise SystemExit(f"{name} must be a positive integer, got {value}")
    if not lr > 0:
        raise SystemExit(f"--lr must be positive, got {lr}")

    # children 0 and 1 of the seed are the data and the split (see make_split)
    init_seed, shuffle_seed, aug_seed = np.random.SeedSequence(seed).spawn(5)[2:]
    model = MLP(sizes, activation=args.activation, dropout=dropout,
                rng=np.random.default_rng(init_seed))
    optimizer = OPTIMIZERS[opt_name](model.parameters(), lr, wd)
    scheduler = optim.CosineAnnealingLR(optimizer, T_max=epochs) if args.cosine else None
    transform = None
    if args.augment and recipe.image_shape is not None:
        transform = _augment_transform(recipe.image_shape, np.random.default_rng(aug_seed))
    loader = DataLoader(TensorDataset(split.X_train, split.y_train), batch_size, shuffle=True,
                        rng=np.random.default_rng(shuffle_seed), transform=transform)
    out_dir = _run_dir(args.out, args.dataset)

    extras = [f"weight decay {wd:g}" if wd else "", f"dropout {dropout:g}" if dropout else "",
              "random rotations, zooms and shifts of the training images" if transform else "",
              "cosine schedule" if scheduler else ""]
    print(f"chaingrad: MLP {sizes} on {args.dataset} ({len(split.y_train):,} train / "
          f"{len(split.y_test):,} test rows), {opt_name} lr={lr:g}, {epochs} epochs of "
          f"batch {batch_size}, seed {seed}"
          + "".join(f", {e}" for e in extras if e), flush=True)
    print("the test set is scored after each epoch (val_*) only to watch; nothing is chosen on it")
    if split.note:
        print(f"note: {split.note}")
    start = time.perf_counter()
    history = fit(model, F.cross_entropy, optimizer, loader, (split.X_test, split.y_test),
                  epochs=epochs, metrics=["accuracy"], scheduler=scheduler,
                  progress=not args.no_progress, verbose=epochs <= 50)
    seconds = time.perf_counter() - start
    acc, correct, loss = _accuracy_line(model, split)
    print(f"test accuracy: {100 * acc:.2f}% ({correct}/{len(split.y_test)})  "
          f"test loss {loss:.4f}  trained in {seconds:.1f} s")

    save(model.state_dict(), out_dir / "model.npz")
    config = {"dataset": args.dataset, "seed": seed, "sizes": sizes,
              "activation": args.activation, "dropout": dropout, "optimizer": opt_name,
              "lr": lr, "weight_decay": wd, "epochs": epochs, "batch_size": batch_size,
              "augment": transform is not None, "cosine": scheduler is not None,
              "test_accuracy": acc, "test_loss": loss, "train_seconds": seconds}
    (out_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out_dir / "history.json").write_text(json.dumps(history.to_dict(), indent=2) + "\n")
    print(f"saved the model to {out_dir / 'model.npz'} (config.json, history.json beside it)")
    if args.no_plot:
        return 0
    try:
        history.plot(out_dir / "loss.png", title=f"MLP {sizes} on {args.dataset}",
                     val_label="test")
        print(f"saved the loss and accuracy curves to {out_dir / 'loss.png'}")
    except ImportError:
        print("matplotlib is not installed, so no loss-curve plot was made "
              "(pip install 'chaingrad[plot]')")
    return 0


def _sizes_from_state(state: dict[str, Any]) -> list[int]:
    weights = [np.asarray(v) for k, v in state.items() if k.endswith("weight")]
    if not weights or any(w.ndim != 2 for w in weights):
        raise SystemExit("evaluate: the model file does not hold the 2-d weights of an MLP")
    return [int(weights[0].shape[1])] + [int(w.shape[0]) for w in weights]


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Rebuild the model from its file (and config.json beside it) and score its test set."""
    path = Path(args.model)
    model_path = path / "model.npz" if path.is_dir() else path
    config_path = model_path.parent / "config.json"
    config: dict[str, Any] = {}
    if config_path.is_file():
        config = json.loads(config_path.read_text())
    dataset = args.dataset or config.get("dataset")
    if dataset is None:
        raise SystemExit(f"evaluate: no config.json beside {model_path}; name the --dataset")
    seed = args.seed if args.seed is not None else config.get("seed", 0)
    try:
        state = load(model_path)
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(f"evaluate: {exc}") from None
    if not isinstance(state, dict):
        raise SystemExit(f"evaluate: {model_path} does not hold a state dict")
    sizes = config.get("sizes") or _sizes_from_state(state)
    split = make_split(dataset, seed)
    model = MLP(sizes, activation=config.get("activation", "relu"),
                dropout=config.get("dropout", 0.0))
    names = [name for name, _ in model.named_parameters()]
    if list(state) != names and len(state) == len(names):
        # no config: the Dropout layers (parameter-free) may shift the layer numbers, but
        # the parameters come in the same order, and their shapes are still checked
        state = dict(zip(names, state.values()))
    model.load_state_dict(state)
    acc, correct, loss = _accuracy_line(model, split)
    print(f"model {model_path}: MLP {sizes} on {dataset} (seed {seed})")
    print(f"test accuracy: {100 * acc:.2f}% ({correct}/{len(split.y_test)})  "
          f"test loss {loss:.4f}")
    return 0


def _recipes_text() -> str:
    lines = ["defaults per dataset:"]
    for name, r in RECIPES.items():
        test = ("the training rows" if r.test_size is None else f"{r.test_size} rows"
                if isinstance(r.test_size, int) else f"{r.test_size:.0%}")
        extra = ", augmented" if r.image_shape else ""
        lines.append(f"  {name:<7} hidden {','.join(map(str, r.hidden))}, {r.epochs} epochs, "
                     f"batch {r.batch_size}, {r.optimizer} lr {r.lr:g}"
                     f"{f', wd {r.weight_decay:g}' if r.weight_decay else ''}"
                     f"{f', dropout {r.dropout:g}' if r.dropout else ''}{extra}, test {test}")
    lines.append("  augmented: each training batch randomly rotated (<= 10 deg), zoomed (<= 10%) "
                 "and shifted (<= 2 px)")
    lines.append("  every dataset: cosine annealing of the learning rate (--no-cosine: constant)")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chaingrad", description="Train and evaluate MLPs with chaingrad.")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser(
        "train", help="train an MLP (default: the embedded MNIST digits)",
        description="Train an MLP, print its test accuracy, save model.npz, config.json, "
                    "history.json and loss.png in the run directory. Options left out take "
                    "the dataset's defaults (below).",
        epilog=_recipes_text(), formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--dataset", choices=list(RECIPES), default="mnist")
    train.add_argument("--sizes", help="layer sizes, e.g. 784,256,10, or hidden sizes, e.g. 256")
    train.add_argument("--activation", default="relu",
                       choices=["relu", "tanh", "sigmoid", "leaky_relu"])
    train.add_argument("--dropout", type=float, help="dropout after each hidden layer")
    train.add_argument("--optimizer", choices=list(OPTIMIZERS))
    train.add_argument("--lr", type=float, help="learning rate")
    train.add_argument("--weight-decay", type=float)
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", help="run directory (default runs/<dataset>-<time>)")
    train.add_argument("--no-augment", dest="augment", action="store_false",
                       help="no random rotations, zooms and shifts of the training images")
    train.add_argument("--no-cosine", dest="cosine", action="store_false",
                       help="constant learning rate instead of cosine annealing")
    train.add_argument("--threads", type=int, default=1,
                       help="BLAS threads (default 1: fastest for these small matrices, and "
                            "unharmed by a busy machine)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.add_argument("--no-plot", action="store_true", help="do not draw loss.png")
    train.set_defaults(func=cmd_train)
    ev = sub.add_parser("evaluate", help="score a saved model on its test set")
    ev.add_argument("model", help="a run directory or its model.npz")
    ev.add_argument("--dataset", choices=list(RECIPES), help="when there is no config.json")
    ev.add_argument("--seed", type=int, help="the split seed when there is no config.json")
    ev.set_defaults(func=cmd_evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m nn`` and the ``chaingrad`` console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
