"""Module, Parameter and containers: discovery, traversal, modes, state, repr, scopes."""

from __future__ import annotations

import numpy as np
import pytest

import autograd as ag
import nn
from autograd.engine import grad_mode, topological_order


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 4, rng=0)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.fc(x))


class Net(nn.Module):
    """Parameters held directly, in a list, in a dict, in a list of Parameters, nested."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter([1.0, 2.0])
        self.block = Block()
        self.heads = [nn.Linear(4, 2, rng=1), nn.Linear(4, 1, rng=2)]
        self.extra = {"out": nn.Linear(2, 1, rng=3)}
        self.gains = [nn.Parameter(np.ones(3, np.float32)), nn.Parameter([0.5])]
        self.not_a_param = ag.Tensor([1.0, 2.0], requires_grad=True)
        self.numbers = [1, 2, 3]

    def forward(self, x):
        h = self.block(x * self.gains[0])
        return self.extra["out"](self.heads[0](h)) + self.heads[1](h)


EXPECTED_NAMES = [
    "scale", "gains.0", "gains.1",
    "block.fc.weight", "block.fc.bias",
    "heads.0.weight", "heads.0.bias", "heads.1.weight", "heads.1.bias",
    "extra.out.weight", "extra.out.bias",
]


def test_parameter_is_a_float32_tensor_that_requires_grad():
    p = nn.Parameter([1, 2, 3])
    assert isinstance(p, ag.Tensor) and p.requires_grad and p.is_leaf
    assert p.dtype == np.float32
    assert nn.Parameter(np.arange(3)).dtype == np.float32
    assert nn.Parameter(np.zeros(2, np.float64)).dtype == np.float64
    assert nn.Parameter(ag.Tensor([1.0])).dtype == np.float32
    assert not nn.Parameter([1.0], requires_grad=False).requires_grad
    assert repr(nn.Parameter([1.0])).startswith("Parameter containing:\nTensor(")
    # ops on parameters give plain tensors
    assert type(p * 2) is ag.Tensor


def test_named_parameters_through_attributes_lists_dicts():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    # own parameters first (in assignment order), then children depth first
    assert names == EXPECTED_NAMES
    assert len(list(net.parameters())) == len(EXPECTED_NAMES)
    params = dict(net.named_parameters())
    assert params["block.fc.weight"] is net.block.fc.weight
    assert params["gains.1"] is net.gains[1]
    assert all(isinstance(p, nn.Parameter) for p in net.parameters())


def test_lists_filled_after_assignment_and_shared_parameters():
    class Grow(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = []
            for _ in range(3):
                self.layers.append(nn.Linear(2, 2))
            self.tied = self.layers[0]

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return self.tied(x)

    g = Grow()
    names = [n for n, _ in g.named_parameters()]
    assert names == [f"layers.{i}.{k}" for i in range(3) for k in ("weight", "bias")]
    assert [n for n, _ in g.named_children()] == ["layers.0", "layers.1", "layers.2"]
    # after a traversal, modules appended to a list later carry their list name (a module
    # held twice is named after its first place)
    out = g(ag.Tensor(np.ones((1, 2), np.float32)))
    assert out.grad_fn._scope.label == "layers.0: Linear"


def test_modules_children_named_modules():
    net = Net()
    mods = list(net.modules())
    assert mods[0] is net
    names = [n for n, _ in net.named_modules()]
    assert names == ["", "block", "block.fc", "block.act", "heads.0", "heads.1", "extra.out"]
    assert [n for n, _ in net.named_children()] == ["block", "heads.0", "heads.1", "extra.out"]
    assert list(net.children())[0] is net.block
    seq = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Sequential(nn.Linear(3, 1)))
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1", "2", "2.0"]
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.0.weight",
                                                      "2.0.bias"]


def test_train_eval_are_recursive():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.block.train(False)
    assert net.training and not net.block.fc.training


def test_zero_grad_sets_none():
    net = Net()
    x = ag.Tensor(np.ones((2, 3), np.float32))
    net(x).sum().backward()
    unused = {"scale", "gains.1"}
    assert all(p.grad is not None for n, p in net.named_parameters() if n not in unused)
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net(x).sum().backward()
    net.zero_grad(set_to_none=False)
    g = net.block.fc.weight.grad
    assert g is not None and not g.data.any()


def test_state_dict_copies_and_round_trips():
    a, b = Net(), Net()
    for p in b.parameters():
        p.data = p.data + 1.0
    sd = a.state_dict()
    assert list(sd) == EXPECTED_NAMES
    assert all(type(v) is np.ndarray for v in sd.values())
    sd["scale"][0] = 99.0  # a copy: the model is untouched
    assert a.scale.data[0] == 1.0
    sd = a.state_dict()
    res = b.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=n)
        assert p.data is not q.data
    # tensors are accepted as values too
    b.load_state_dict({k: ag.Tensor(v) for k, v in sd.items()})


def test_load_state_dict_errors_name_keys_and_shapes():
    net = Net()
    sd = net.state_dict()
    del sd["block.fc.bias"]
    sd["bogus.weight"] = np.zeros(3)
    with pytest.raises(RuntimeError) as e:
        net.load_state_dict(sd)
    msg = str(e.value)
    assert "missing keys: block.fc.bias" in msg and "unexpected keys: bogus.weight" in msg
    before = net.block.fc.weight.data.copy()
    sd2 = net.state_dict()
    sd2["block.fc.weight"] = np.zeros((4, 3)) + 7
    del sd2["heads.0.bias"]
    res = net.load_state_dict(sd2, strict=False)
    assert res.missing_keys == ["heads.0.bias"] and res.unexpected_keys == []
    assert (net.block.fc.weight.data == 7).all() and net.block.fc.weight.dtype == np.float32
    net.block.fc.weight.data = before
    bad = net.state_dict()
    bad["block.fc.weight"] = np.zeros((3, 4))
    with pytest.raises(RuntimeError, match=r"shape mismatch for block.fc.weight: the checkpoint "
                                           r"has \(3, 4\), the model has \(4, 3\)"):
        net.load_state_dict(bad, strict=False)
    # nothing was loaded when an error was raised
    np.testing.assert_array_equal(net.block.fc.weight.data, before)


def test_buffers_are_in_the_state_dict():
    class Norm(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter([1.0])
            self.register_buffer("running_mean", np.zeros(2, np.float32))

        def forward(self, x):
            return x - self.running_mean

    m = nn.Sequential(Norm())
    assert list(m.state_dict()) == ["0.w", "0.running_mean"]
    assert [n for n, _ in m.named_parameters()] == ["0.w"]
    m.load_state_dict({"0.w": np.array([2.0]), "0.running_mean": np.array([1.0, 2.0])})
    np.testing.assert_array_equal(m[0].running_mean.data, [1.0, 2.0])


def test_repr_is_nested_like_pytorch():
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Sequential(nn.Dropout(0.25),
                                                                     nn.Linear(8, 1, bias=False)))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=8, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Dropout(p=0.25)\n"
        "    (1): Linear(in_features=8, out_features=1, bias=False)\n"
        "  )\n"
        ")"
    )
    assert repr(Block()) == ("Block(\n  (fc): Linear(in_features=3, out_features=4, bias=True)\n"
                             "  (act): ReLU()\n)")


def _scopes_of(out: ag.Tensor) -> dict[str, list[str]]:
    """Op name -> list of scope paths ("MLP / 0: Linear") of the nodes in out's graph."""
    found: dict[str, list[str]] = {}
    for v in topological_order([out.grad_fn]):
        if isinstance(v, ag.Tensor):
            continue
        path = " / ".join(s.label for s in v._scope.path()) if v._scope else ""
        found.setdefault(v.name, []).append(path)
    return found


def test_mlp_ops_carry_nested_scopes():
    model = nn.MLP([3, 5, 4, 2], rng=0)
    x = ag.Tensor(np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32))
    out = model(x)
    assert grad_mode.scope is None  # restored after the call
    scopes = _scopes_of(out)
    assert sorted(scopes["Affine"]) == ["MLP / 0: Linear", "MLP / 2: Linear", "MLP / 4: Linear"]
    assert sorted(scopes["Relu"]) == ["MLP / 1: ReLU", "MLP / 3: ReLU"]
    # the scope objects nest: the Linear's scope's parent is the MLP's
    s = out.grad_fn._scope
    assert s.label == "4: Linear" and s.parent.label == "MLP" and s.parent.parent is None
    # ops outside any module carry no scope
    loss = (out * out).sum()
    assert loss.grad_fn._scope is None


def test_nested_custom_modules_scopes_and_exceptions():
    class Outer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = Block()
            self.head = nn.Linear(4, 1)

        def forward(self, x):
            return self.head(self.encoder(x))

    m = Outer()
    out = m(ag.Tensor(np.ones((2, 3), np.float32)))
    scopes = _scopes_of(out)
    assert sorted(scopes["Affine"]) == ["Outer / encoder: Block / fc: Linear",
                                        "Outer / head: Linear"]
    assert scopes["Relu"] == ["Outer / encoder: Block / act: ReLU"]
    with pytest.raises(ValueError):
        m(ag.Tensor(np.ones((2, 5), np.float32)))
    assert grad_mode.scope is None  # restored after an exception too


def test_containers():
    layers = [nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and seq[0] is layers[0] and list(seq) == layers
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2 and sub[0] is layers[1]
    x = ag.Tensor(np.ones((4, 2), np.float32))
    np.testing.assert_allclose(seq(x).data, layers[2](layers[1](layers[0](x))).data)
    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml.append(nn.Linear(1, 2)).extend([nn.Tanh()])
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    with pytest.raises(TypeError, match="holds Modules"):
        ml.append(3)
    md = nn.ModuleDict({"a": nn.Linear(1, 1), "b": nn.ReLU()})
    assert "a" in md and len(md) == 2 and list(md) == ["a", "b"]
    assert [n for n, _ in md.named_parameters()] == ["a.weight", "a.bias"]


def test_forward_missing_and_to_dtype():
    with pytest.raises(NotImplementedError, match="Empty does not define forward"):
        type("Empty", (nn.Module,), {})()(1)
    m = nn.MLP([2, 3, 1], rng=0)
    m.to(np.float64)
    assert all(p.dtype == np.float64 for p in m.parameters())
    out = m(ag.Tensor(np.ones((1, 2))))
    assert out.dtype == np.float64


def test_apply_visits_children_first():
    seq = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    seen = []
    seq.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]
    seq.apply(lambda m: nn.init.zeros_(m.weight) if isinstance(m, nn.Linear) else None)
    assert not seq[0].weight.data.any()
