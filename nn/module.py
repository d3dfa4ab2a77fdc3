"""``Module``, ``Parameter`` and the containers ``Sequential``, ``ModuleList``, ``ModuleDict``.

Modules find their parameters and sub-modules by looking at their attributes (plain
attributes, and lists, tuples and dicts of modules or parameters), so a list filled after
assignment is still seen. Calling a module runs ``forward`` inside a graph scope named
after the attribute it is held by, so graph drawings can box ops by module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from autograd.engine import Scope, grad_mode
from autograd.tensor import Tensor, get_default_dtype


class Parameter(Tensor):
    """A Tensor that is a learnable weight of a module: it requires grad by default.

    Python numbers and lists become the default float dtype (float32); integer arrays are
    converted to it too, float numpy arrays keep their dtype and are used without a copy.
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None,
                 name: str | None = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        if dtype is None and np.asarray(data).dtype.kind in "biu":
            dtype = get_default_dtype()
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, name=name)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class _LoadResult(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


def _collection_members(name: str, value: Any) -> Iterator[tuple[str, Any]]:
    """Modules and Parameters inside a list, tuple or dict held by attribute ``name``."""
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            if isinstance(v, (Module, Parameter)):
                yield f"{name}.{i}", v
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (Module, Parameter)):
                yield f"{name}.{k}", v


def _label(name: str, module: Module) -> str:
    return f"{name}: {type(module).__name__}"


class Module:
    """Base class of layers and models: subclass it and write ``forward``.

    Parameters and sub-modules are discovered through attributes, lists and dicts, in the
    order they were assigned. ``module(x)`` runs ``forward(x)`` inside the graph scope
    ``"<attribute name>: <ClassName>"`` (the class name for a root module), so every op it
    records carries ``node._scope``. The name is the first attribute the module was
    assigned to; a traversal (``parameters()``, ``children()``...) renames each child after
    where its parent first holds it, which also names modules appended to a list later.
    """

    training: bool = True
    _scope_label: str | None = None

    def __init__(self) -> None:
        self.training = True

    # -- registration ----------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Module):
            if value._scope_label is None:
                object.__setattr__(value, "_scope_label", _label(name, value))
        elif isinstance(value, (list, tuple, dict)):
            for child_name, v in _collection_members(name, value):
                if isinstance(v, Module) and v._scope_label is None:
                    object.__setattr__(v, "_scope_label", _label(child_name, v))
        object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        buffers = self.__dict__.get("_buffers")
        if buffers is not None and name in buffers:
            return buffers[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def register_buffer(self, name: str, value: Any) -> None:
        """Keep a non-learnable array (e.g. running statistics) in the ``state_dict``."""
        if "_buffers" not in self.__dict__:
            object.__setattr__(self, "_buffers", {})
        self.__dict__.pop(name, None)
        self._buffers[name] = value if isinstance(value, Tensor) else Tensor(np.asarray(value))

    def _members(self) -> Iterator[tuple[str, Any]]:
        """(name, Parameter or Module) held by this module itself, in assignment order."""
        for name, value in self.__dict__.items():
            if isinstance(value, (Module, Parameter)):
                yield name, value
            elif isinstance(value, (list, tuple, dict)):
                yield from _collection_members(name, value)

    # -- calling -----------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation of the module; subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Same effect as ``with autograd.engine.scope(label):``, without the object's cost.
        prev = grad_mode.scope
        grad_mode.scope = Scope(self._scope_label or type(self).__name__, prev)
        try:
            return self.forward(*args, **kwargs)
        finally:
            grad_mode.scope = prev

    # -- traversal ---------------------------------------------------------------------
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules with their names (each module once)."""
        seen: set[int] = set()
        for name, v in self._members():
            if isinstance(v, Module) and id(v) not in seen:
                seen.add(id(v))
                object.__setattr__(v, "_scope_label", _label(name, v))
                yield name, v

    def children(self) -> Iterator[Module]:
        """Direct sub-modules."""
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (named ``prefix``) and every sub-module, depth first, with dotted
        names; a module reachable twice is listed once."""
        seen = {id(self)}
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, mod = stack.pop()
            yield name, mod
            kids = []
            for cname, child in mod.named_children():
                if id(child) not in seen:
                    seen.add(id(child))
                    kids.append((f"{name}.{cname}" if name else cname, child))
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        """This module first, then every sub-module, depth first."""
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted name (``"0.weight"``); shared ones once."""
        seen: set[int] = set()
        for mname, mod in self.named_modules(prefix):
            for pname, p in mod._members():
                if isinstance(p, Parameter) and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self) -> Iterator[Parameter]:
        """Every parameter, in the order of ``named_parameters``."""
        for _, p in self.named_parameters():
            yield p

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        """Every buffer registered with ``register_buffer``, with its dotted name."""
        for mname, mod in self.named_modules():
            for bname, b in mod.__dict__.get("_buffers", {}).items():
                yield (f"{mname}.{bname}" if mname else bname), b

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every sub-module (children first) and then on this one."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # -- modes and gradients -------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active) on this module and all sub-modules."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Set evaluation mode (dropout off) on this module and all sub-modules."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget accumulated gradients (set to None, or to zeros in place)."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad = Tensor(np.zeros_like(p.data))

    def to(self, dtype: Any) -> Module:
        """Cast every float parameter and buffer to ``dtype`` (e.g. ``np.float64``)."""
        dt = np.dtype(dtype)
        for t in [p for p in self.parameters()] + [b for _, b in self.named_buffers()]:
            if t.dtype.kind == "f" and t.dtype != dt:
                t.data = t.data.astype(dt)
                t.grad = None
        return self

    # -- state -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Parameter and buffer name -> a copy of its numpy array."""
        sd = {name: p.data.copy() for name, p in self.named_parameters()}
        for name, b in self.named_buffers():
            sd[name] = b.data.copy()
        return sd

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> _LoadResult:
        """Copy arrays (or Tensors) into the parameters and buffers of the same names.

        A shape mismatch always raises; with ``strict`` missing and unexpected keys do too.
        Returns ``(missing_keys, unexpected_keys)``.
        """
        own = dict(self.named_parameters())
        own.update(self.named_buffers())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and (missing or unexpected):
            if missing:
                errors.append(f"missing keys: {', '.join(missing)}")
            if unexpected:
                errors.append(f"unexpected keys: {', '.join(unexpected)}")
        arrays = {}
        for k, t in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = np.asarray(v.data if isinstance(v, Tensor) else v)
            if arr.shape != t.shape:
                errors.append(f"shape mismatch for {k}: the checkpoint has {arr.shape}, "
                              f"the model has {t.shape}")
            else:
                arrays[k] = arr
        if errors:
            raise RuntimeError(f"load_state_dict into {type(self).__name__}: "
                               + "; ".join(errors))
        for k, arr in arrays.items():
            t = own[k]
            t.data = arr.astype(t.dtype, copy=True)
        return _LoadResult(missing, unexpected)

    # -- printing ----------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (its settings)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, child in self.named_children():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        head = f"{type(self).__name__}({extra}" if extra else f"{type(self).__name__}("
        if extra:
            head += ","
        return head + "\n" + "\n".join(lines) + "\n)"


class ModuleList(Module):
    """A list of modules whose items are named by their index (``"0"``, ``"1"``...)."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        self._items: list[Module] = []
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        """Add a module at the end."""
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__} holds Modules, got {type(module).__name__}")
        object.__setattr__(module, "_scope_label", _label(str(len(self._items)), module))
        self._items.append(module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Add several modules at the end."""
        for m in modules:
            self.append(m)
        return self

    def _members(self) -> Iterator[tuple[str, Any]]:
        for i, m in enumerate(self._items):
            yield str(i), m
        yield from _other_members(self)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return type(self)(self._items[i]) if type(self) is ModuleList else self._items[i]
        return self._items[i]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items)


class Sequential(ModuleList):
    """Modules applied one after the other: ``Sequential(Linear(2, 8), ReLU(), ...)``."""

    def __init__(self, *modules: Module) -> None:
        super().__init__(modules)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return Sequential(*self._items[i])
        return self._items[i]

    def forward(self, x: Any) -> Any:
        for m in self._items:
            x = m(x)
        return x


class ModuleDict(Module):
    """A dict of modules named by their keys."""

    def __init__(self, modules: Mapping[str, Module] | None = None) -> None:
        super().__init__()
        self._items: dict[str, Module] = {}
        for k, m in (modules or {}).items():
            self[k] = m

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict holds Modules, got {type(module).__name__}")
        object.__setattr__(module, "_scope_label", _label(str(key), module))
        self._items[str(key)] = module

    def __getitem__(self, key: str) -> Module:
        return self._items[key]

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def keys(self) -> Iterable[str]:
        return self._items.keys()

    def values(self) -> Iterable[Module]:
        return self._items.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._items.items()

    def _members(self) -> Iterator[tuple[str, Any]]:
        yield from self._items.items()
        yield from _other_members(self)


def _other_members(container: Module) -> Iterator[tuple[str, Any]]:
    """Members a container subclass holds in attributes besides its items."""
    for name, v in Module._members(container):
        if name != "_items" and not name.startswith("_items."):
            yield name, v
