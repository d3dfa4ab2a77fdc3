"""Optimizers and schedulers against update rules written here in numpy (float64)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import autograd as ag
import nn
from nn import optim

STEPS = 7
SHAPE = (3, 4)


def _grads(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(SHAPE) for _ in range(STEPS)]


P0 = np.random.default_rng(99).standard_normal(SHAPE)


# -- reference update rules (PyTorch's documented algorithms) ---------------------------------
def sgd_ref(p, grads, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    out, buf = [], None
    for g in grads:
        g = g + weight_decay * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        out.append(p)
    return out


def adagrad_ref(p, grads, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                initial_accumulator_value=0.0, eps=1e-10):
    out, s = [], np.full_like(p, initial_accumulator_value)
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g
        p = p - clr * g / (np.sqrt(s) + eps)
        out.append(p)
    return out


def rmsprop_ref(p, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                centered=False):
    out = []
    v, gavg, buf = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for g in grads:
        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        if centered:
            gavg = alpha * gavg + (1 - alpha) * g
            avg = np.sqrt(v - gavg * gavg) + eps
        else:
            avg = np.sqrt(v) + eps
        if momentum > 0:
            buf = momentum * buf + g / avg
            p = p - lr * buf
        else:
            p = p - lr * g / avg
        out.append(p)
    return out


def adam_ref(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
             amsgrad=False, decoupled=False):
    b1, b2 = betas
    out = []
    m, v, vmax = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat = m / (1 - b1**t)
        if amsgrad:
            vmax = np.maximum(vmax, v)
            vhat = vmax / (1 - b2**t)
        else:
            vhat = v / (1 - b2**t)
        p = p - lr * mhat / (np.sqrt(vhat) + eps)
        out.append(p)
    return out


def adamw_ref(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
              amsgrad=False):
    return adam_ref(p, grads, lr, betas, eps, weight_decay, amsgrad, decoupled=True)


CASES = [
    (optim.SGD, sgd_ref, dict(lr=0.1)),
    (optim.SGD, sgd_ref, dict(lr=0.1, momentum=0.9)),
    (optim.SGD, sgd_ref, dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    (optim.SGD, sgd_ref, dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    (optim.Adagrad, adagrad_ref, dict()),
    (optim.Adagrad, adagrad_ref, dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.5,
                                      weight_decay=0.1, eps=1e-6)),
    (optim.RMSprop, rmsprop_ref, dict()),
    (optim.RMSprop, rmsprop_ref, dict(alpha=0.9, centered=True)),
    (optim.RMSprop, rmsprop_ref, dict(momentum=0.9, lr=0.001)),
    (optim.RMSprop, rmsprop_ref, dict(centered=True, momentum=0.5, weight_decay=0.1, lr=0.05)),
    (optim.Adam, adam_ref, dict()),
    (optim.Adam, adam_ref, dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, eps=1e-6)),
    (optim.Adam, adam_ref, dict(amsgrad=True, lr=0.1)),
    (optim.AdamW, adamw_ref, dict()),
    (optim.AdamW, adamw_ref, dict(lr=0.1, weight_decay=0.5)),
    (optim.AdamW, adamw_ref, dict(amsgrad=True, weight_decay=0.1, betas=(0.5, 0.6))),
]
IDS = [f"{c.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}"
       for c, _, kw in CASES]


def _run_ours(cls, kwargs, p0, grads, dtype=np.float64):
    p = nn.Parameter(p0.astype(dtype))
    opt = cls([p], **kwargs)
    out = []
    for g in grads:
        p.grad = ag.Tensor(g.astype(dtype))
        opt.step()
        out.append(p.data.copy())
    return out, p, opt


@pytest.mark.parametrize(("cls", "ref", "kwargs"), CASES, ids=IDS)
def test_steps_match_reference(cls, ref, kwargs):
    grads = _grads()
    ours, p, _ = _run_ours(cls, kwargs, P0, grads)
    expected = ref(P0.copy(), grads, **kwargs)
    for k, (a, b) in enumerate(zip(ours, expected)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=f"step {k + 1}")
    assert p.dtype == np.float64 and p.is_leaf and p.grad_fn is None
    # float32 parameters stay float32 (state too) and follow the same path
    ours32, p32, opt32 = _run_ours(cls, kwargs, P0, grads, np.float32)
    assert p32.dtype == np.float32
    for st in opt32.state.values():
        for v in st.values():
            if isinstance(v, np.ndarray):
                assert v.dtype == np.float32
    np.testing.assert_allclose(ours32[-1], expected[-1], rtol=2e-4, atol=2e-5)


def test_defaults_are_pytorch_defaults():
    p = [nn.Parameter([1.0])]
    assert optim.SGD(p).defaults == dict(lr=1e-3, momentum=0.0, dampening=0.0,
                                         weight_decay=0.0, nesterov=False)
    assert optim.Adagrad(p).defaults == dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                                             initial_accumulator_value=0.0, eps=1e-10)
    assert optim.RMSprop(p).defaults == dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
                                             momentum=0.0, centered=False)
    assert optim.Adam(p).defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                                          weight_decay=0.0, amsgrad=False)
    assert optim.AdamW(p).defaults["weight_decay"] == 1e-2


def test_param_groups_and_missing_grads():
    a, b, c = (nn.Parameter(np.ones(2, np.float64)) for _ in range(3))
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}, {"params": [c]}], lr=0.1,
                    momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5, 0.1]
    a.grad = ag.Tensor(np.ones(2))
    b.grad = ag.Tensor(np.ones(2))
    opt.step()
    np.testing.assert_allclose(a.data, 0.9)
    np.testing.assert_allclose(b.data, 0.5)
    np.testing.assert_allclose(c.data, 1.0)  # no gradient: untouched, no state
    assert c not in opt.state or not opt.state[c]
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    a.grad = ag.Tensor(np.ones(2))
    opt.zero_grad(set_to_none=False)
    assert a.grad is not None and not a.grad.data.any()


def test_step_assigns_new_arrays_so_recorded_graphs_stay_honest():
    w = nn.Parameter(np.array([1.0, 2.0]))
    x = ag.Tensor(np.array([3.0, 4.0]))
    loss = (w * w * x).sum()  # Mul saves w's array
    saved = w.data
    w.grad = ag.Tensor(np.array([1.0, 1.0]))
    optim.SGD([w], lr=0.5).step()
    np.testing.assert_array_equal(saved, [1.0, 2.0])  # not written into
    np.testing.assert_array_equal(w.data, [0.5, 1.5])
    with pytest.raises(RuntimeError, match="modified in place after the forward"):
        loss.backward()
    # a graph recorded after the step backpropagates normally
    w.grad = None
    (w * w * x).sum().backward()
    np.testing.assert_allclose(w.grad.data, 2 * w.data * x.data)


def test_closure_and_training_reduces_loss():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    model = nn.Linear(3, 1, dtype=np.float64, rng=0)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.5)

    def closure():
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(X)[:, 0], y)
        loss.backward()
        return loss

    first = opt.step(closure).item()
    for _ in range(100):
        last = opt.step(closure).item()
    assert last < 1e-6 < first


@pytest.mark.parametrize(("cls", "kwargs"), [
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    (optim.Adam, dict(lr=0.1, amsgrad=True)),
    (optim.RMSprop, dict(centered=True, momentum=0.3)),
    (optim.Adagrad, dict(lr_decay=0.1)),
])
def test_state_dict_resumes_exactly(cls, kwargs):
    grads = _grads(3)
    full, _, _ = _run_ours(cls, kwargs, P0, grads)
    p = nn.Parameter(P0.copy())
    q = nn.Parameter(np.zeros(2))
    opt = cls([{"params": [p]}, {"params": [q], "lr": 0.5}], **kwargs)
    for g in grads[:3]:
        p.grad = ag.Tensor(g)
        opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0] and sd["param_groups"][1]["params"] == [1]
    assert sd["param_groups"][1]["lr"] == 0.5
    p2, q2 = nn.Parameter(p.data.copy()), nn.Parameter(np.zeros(2))
    opt2 = cls([{"params": [p2]}, {"params": [q2]}], **kwargs)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[1]["lr"] == 0.5
    for st in sd["state"].values():  # the saved arrays are copies
        for v in st.values():
            if isinstance(v, np.ndarray):
                v[...] = 1e9
    for g in grads[3:]:
        p2.grad = ag.Tensor(g)
        opt2.step()
    np.testing.assert_allclose(p2.data, full[-1], rtol=1e-12)
    with pytest.raises(ValueError, match="parameter groups"):
        cls([p2], **kwargs).load_state_dict(opt2.state_dict())


def test_errors():
    p = nn.Parameter([1.0])
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="invalid lr -1"):
        optim.Adam([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas must be in"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([p, 3.0], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="does not require grad"):
        optim.SGD([ag.Tensor([1.0])], lr=0.1)
    with pytest.raises(ValueError, match="not a leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(TypeError, match="unknown hyper-parameters"):
        optim.SGD([{"params": [p], "betas": (0.9, 0.9)}], lr=0.1)


# -- schedulers -----------------------------------------------------------------------------
def test_step_lr_closed_form():
    p = nn.Parameter([1.0])
    opt = optim.SGD([{"params": [p]}, {"params": [nn.Parameter([1.0])], "lr": 0.4}], lr=0.1)
    sched = optim.StepLR(opt, step_size=3, gamma=0.5)
    seen = []
    for _ in range(10):
        seen.append([g["lr"] for g in opt.param_groups])
        assert sched.get_last_lr() == seen[-1]
        sched.step()
    for epoch, lrs in enumerate(seen):
        assert lrs == [0.1 * 0.5 ** (epoch // 3), 0.4 * 0.5 ** (epoch // 3)]
    # the optimizer really uses the scheduled rate
    p.grad = ag.Tensor(np.array([1.0], np.float32))
    before = p.data.copy()
    opt.step()
    np.testing.assert_allclose(before - p.data, 0.1 * 0.5 ** (10 // 3), rtol=1e-6)


def test_cosine_annealing_closed_form_and_state():
    opt = optim.Adam([nn.Parameter([1.0])], lr=0.2)
    T, eta_min = 5, 0.01
    sched = optim.CosineAnnealingLR(opt, T_max=T, eta_min=eta_min)
    for epoch in range(2 * T + 1):
        expected = eta_min + (0.2 - eta_min) * (1 + math.cos(math.pi * epoch / T)) / 2
        assert math.isclose(opt.param_groups[0]["lr"], expected, rel_tol=1e-15)
        sched.step()
    assert math.isclose(sched.get_last_lr()[0], eta_min + (0.2 - eta_min) * (
        1 + math.cos(math.pi * (2 * T + 1) / T)) / 2)
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == 2 * T + 1
    opt2 = optim.Adam([nn.Parameter([1.0])], lr=0.2)
    s2 = optim.CosineAnnealingLR(opt2, T_max=T, eta_min=eta_min)
    s2.load_state_dict(sd)
    s2.step()
    sched.step()
    assert s2.get_last_lr() == sched.get_last_lr()
    with pytest.raises(ValueError, match="step_size must be a positive integer"):
        optim.StepLR(opt, step_size=0)


def test_against_torch_when_available():
    torch = pytest.importorskip("torch")
    grads = _grads(5)
    for cls, _, kwargs in CASES:
        ours, _, _ = _run_ours(cls, kwargs, P0, grads)
        tp = torch.tensor(P0.copy(), requires_grad=True)
        topt = getattr(torch.optim, cls.__name__)([tp], **kwargs)
        for g in grads:
            tp.grad = torch.tensor(g)
            topt.step()
        np.testing.assert_allclose(ours[-1], tp.detach().numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=f"{cls.__name__} {kwargs}")
    tp = torch.tensor([1.0], requires_grad=True)
    topt = torch.optim.SGD([tp], lr=0.3)
    tsched = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=4, eta_min=0.05)
    opt = optim.SGD([nn.Parameter([1.0])], lr=0.3)
    sched = optim.CosineAnnealingLR(opt, T_max=4, eta_min=0.05)
    for _ in range(12):
        assert math.isclose(opt.param_groups[0]["lr"], topt.param_groups[0]["lr"],
                            rel_tol=1e-9, abs_tol=1e-12)
        topt.step()
        tsched.step()
        sched.step()
