"""Optimizers and learning-rate schedulers with PyTorch's names, defaults and update rules.

Every optimizer keeps ``param_groups`` (lists of dicts: ``"params"`` plus the
hyper-parameters) and per-parameter ``state``; ``step()`` updates each parameter that has a
gradient. Updates are computed in numpy under ``no_grad`` and **assigned** as a new array
(``p.data = p.data - update``), so arrays a recorded graph saved are never overwritten;
the parameter's version counter moves on, so backpropagating through a graph recorded
before the step raises the engine's clear error instead of giving a wrong gradient.
The optimizer's own state buffers (momentum, moments) are updated in place: nothing
else holds them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from autograd.engine import enable_grad, no_grad
from autograd.tensor import Tensor


class Optimizer:
    """Base class: parameter groups, ``zero_grad``, ``step``, ``state_dict``."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Tensors or of dicts, got a single "
                            "Tensor; wrap it in a list")
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a dict with ``"params"`` and optional hyper-parameters (others default)."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError("a parameter group must be a dict with a 'params' entry")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__} can only optimize Tensors, but "
                                f"parameter {i} is a {type(p).__name__}")
            if not p.requires_grad:
                raise ValueError(f"parameter {i} (shape {p.shape}) does not require grad")
            if not p.is_leaf:
                raise ValueError(f"parameter {i} (shape {p.shape}) is not a leaf tensor; "
                                 "only leaves can be optimized")
            if id(p) in seen:
                raise ValueError(f"parameter {i} (shape {p.shape}) appears in more than one "
                                 "parameter group")
            seen.add(id(p))
        unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown hyper-parameters "
                            f"{sorted(unknown)}; known: {sorted(self.defaults)}")
        full = {**self.defaults, **group, "params": params}
        self._validate(full)
        self.param_groups.append(full)

    def _validate(self, group: dict[str, Any]) -> None:
        for key in ("lr", "eps", "weight_decay", "momentum", "lr_decay"):
            if key in group and group[key] < 0:
                raise ValueError(f"{type(self).__name__}: invalid {key} {group[key]} (must be "
                                 ">= 0)")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients of all parameters (None, or zeros)."""
        for g in self.param_groups:
            for p in g["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad = Tensor(np.zeros_like(p.data))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient. ``closure`` (optional) recomputes
        and returns the loss first."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    st = self.state.get(p)
                    if st is None:
                        st = self.state[p] = {}
                    g = p.grad.data
                    if g.shape != p.shape:
                        raise RuntimeError(f"{type(self).__name__}: gradient of shape "
                                           f"{g.shape} for a parameter of shape {p.shape}")
                    new = self._update(p.data, g, st, group)
                    p.data = new if new.dtype == p.dtype else new.astype(p.dtype)
        return loss

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> np.ndarray:
        """The new value of parameter array ``p`` given its gradient ``g``."""
        raise NotImplementedError

    # -- state ------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}`` with
        parameters numbered across groups in order (PyTorch's layout); arrays are copies."""
        index: dict[int, int] = {}
        groups = []
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": ids})
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                if p in self.state:
                    state[index[id(p)]] = {
                        k: (v.copy() if isinstance(v, np.ndarray) else v)
                        for k, v in self.state[p].items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyper-parameters and state saved by ``state_dict`` (same parameters)."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"load_state_dict: the saved state has {len(groups)} parameter "
                             f"groups, this optimizer has {len(self.param_groups)}")
        params = {}
        for i, (saved, own) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(f"load_state_dict: group {i} has {len(saved['params'])} "
                                 f"parameters in the saved state, {len(own['params'])} here")
            for idx, p in zip(saved["params"], own["params"]):
                params[int(idx)] = p
        new_state: dict[Tensor, dict[str, Any]] = {}
        for idx, st in state_dict["state"].items():
            p = params.get(int(idx))
            if p is None:
                raise ValueError(f"load_state_dict: state for unknown parameter index {idx}")
            entry = {}
            for k, v in st.items():
                if isinstance(v, np.ndarray) and v.ndim > 0:
                    if v.shape != p.shape:
                        raise ValueError(f"load_state_dict: state {k!r} of parameter {idx} "
                                         f"has shape {v.shape}, the parameter {p.shape}")
                    v = v.astype(p.dtype, copy=True)
                elif isinstance(v, np.ndarray):
                    v = v.item()
                entry[k] = v
            new_state[p] = entry
        for saved, own in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    own[k] = tuple(v) if isinstance(v, list) else v
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        return "\n".join(lines) + "\n)"


def _decayed(p: np.ndarray, g: np.ndarray, weight_decay: float) -> np.ndarray:
    """L2 penalty folded into the gradient (a new array: the gradient is left alone)."""
    return g + weight_decay * p if weight_decay else g


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov momentum
    and L2 weight decay, exactly as ``torch.optim.SGD``:
    ``g += wd p; b = mu b + (1 - dampening) g (b = g at first); g = g + mu b (Nesterov) or
    b; p -= lr g``."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False) -> None:
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum > 0 and zero "
                             "dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> np.ndarray:
        g = _decayed(p, g, group["weight_decay"])
        mu = group["momentum"]
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, dtype=p.dtype, copy=True)
            else:
                buf *= mu
                buf += (1.0 - group["dampening"]) * g
            g = g + mu * buf if group["nesterov"] else buf
        new = g * -group["lr"]  # p - lr g, bit for bit, with one temporary array
        new += p
        return new


class Adagrad(Optimizer):
    """Adagrad, as ``torch.optim.Adagrad``: ``clr = lr / (1 + (t - 1) lr_decay);
    s += g^2; p -= clr g / (sqrt(s) + eps)`` with ``s`` starting at
    ``initial_accumulator_value``."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10) -> None:
        if initial_accumulator_value < 0:
            raise ValueError(f"Adagrad: invalid initial_accumulator_value "
                             f"{initial_accumulator_value} (must be >= 0)")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps))
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = {"step": 0, "sum": np.full(
                    p.shape, group["initial_accumulator_value"], dtype=p.dtype)}

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> np.ndarray:
        if not state:
            state["step"] = 0
            state["sum"] = np.full(p.shape, group["initial_accumulator_value"], dtype=p.dtype)
        state["step"] += 1
        g = _decayed(p, g, group["weight_decay"])
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"]
        s += g * g
        return p - clr * g / (np.sqrt(s) + group["eps"])


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop``: ``v = alpha v + (1 - alpha) g^2``; with
    ``centered`` also ``m = alpha m + (1 - alpha) g`` and ``v - m^2`` under the root;
    ``avg = sqrt(.) + eps``; with momentum ``b = mu b + g / avg; p -= lr b``, else
    ``p -= lr g / avg``."""

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False) -> None:
        if alpha < 0:
            raise ValueError(f"RMSprop: invalid alpha {alpha} (must be >= 0)")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> np.ndarray:
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p)
            if group["momentum"] > 0:
                state["momentum_buffer"] = np.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p)
        state["step"] += 1
        g = _decayed(p, g, group["weight_decay"])
        alpha = group["alpha"]
        sq = state["square_avg"]
        sq *= alpha
        sq += (1.0 - alpha) * g * g
        if group["centered"]:
            ga = state["grad_avg"]
            ga *= alpha
            ga += (1.0 - alpha) * g
            avg = np.sqrt(sq - ga * ga) + group["eps"]
        else:
            avg = np.sqrt(sq) + group["eps"]
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += g / avg
            return p - group["lr"] * buf
        return p - group["lr"] * g / avg


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam``: ``m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``; ``weight_decay`` adds
    ``wd p`` to the gradient (L2); ``amsgrad`` uses the running max of ``v``."""

    _decoupled = False

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        b1, b2 = betas
        if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
            raise ValueError(f"{type(self).__name__}: betas must be in [0, 1), got {betas}")
        super().__init__(params, dict(lr=lr, betas=(float(b1), float(b2)), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad))

    def _update(self, p: np.ndarray, g: np.ndarray, state: dict[str, Any],
                group: dict[str, Any]) -> np.ndarray:
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        lr, wd = group["lr"], group["weight_decay"]
        b1, b2 = group["betas"]
        if self._decoupled:
            p = p * (1.0 - lr * wd)
        else:
            g = _decayed(p, g, wd)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= b1
        m += g * (1.0 - b1)
        v *= b2
        gg = g * g
        gg *= 1.0 - b2
        v += gg
        step_size = lr / (1.0 - b1**t)
        bc2_sqrt = math.sqrt(1.0 - b2**t)
        if group["amsgrad"]:
            vmax = state["max_exp_avg_sq"]
            np.maximum(vmax, v, out=vmax)
            v = vmax
        denom = np.sqrt(v, out=gg)  # temporaries reused: this runs on every parameter
        denom /= bc2_sqrt
        denom += group["eps"]
        np.divide(m, denom, out=denom)
        denom *= step_size
        return p - denom


class AdamW(Adam):
    """AdamW, as ``torch.optim.AdamW``: Adam with decoupled weight decay
    ``p *= 1 - lr wd`` before the Adam step (the gradient is not touched); default
    ``weight_decay=1e-2``."""

    _decoupled = True

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)


# -- learning-rate schedulers ---------------------------------------------------------------
class LRScheduler:
    """Base class: sets each group's ``lr`` from its ``initial_lr`` and the epoch count.

    Construction performs the first ``step()`` (epoch 0), as PyTorch does; call ``step()``
    once per epoch after the optimizer's steps.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs an Optimizer, got "
                            f"{type(optimizer).__name__}")
        self.optimizer = optimizer
        for i, g in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                g.setdefault("initial_lr", g["lr"])
            elif "initial_lr" not in g:
                raise KeyError(f"param group {i} has no 'initial_lr': resuming with "
                               "last_epoch != -1 needs the optimizer's state restored first")
        self.base_lrs = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._last_lr: list[float] = []
        self.step()

    def lr_at(self, base_lr: float, epoch: int) -> float:
        """The learning rate of a group with initial rate ``base_lr`` at ``epoch``."""
        raise NotImplementedError

    def get_lr(self) -> list[float]:
        """The learning rates for the current epoch."""
        return [self.lr_at(b, self.last_epoch) for b in self.base_lrs]

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last ``step()``."""
        return list(self._last_lr)

    def step(self) -> None:
        """Advance one epoch and set the groups' learning rates."""
        self.last_epoch += 1
        lrs = self.get_lr()
        for g, lr in zip(self.optimizer.param_groups, lrs):
            g["lr"] = lr
        self._last_lr = lrs

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)


class StepLR(LRScheduler):
    """``lr = initial_lr * gamma ** (epoch // step_size)``."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        if int(step_size) <= 0:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size}")
        self.step_size = int(step_size)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """``lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``
    (SGDR without restarts; PyTorch's closed form)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be positive, got {T_max}")
        self.T_max = T_max
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return self.eta_min + (base_lr - self.eta_min) * (
            1 + math.cos(math.pi * epoch / self.T_max)) / 2
