"""``save`` / ``load``: state dicts, Tensors and arrays in a pickle-free ``.npz``.

The file is an ordinary numpy ``.npz``: every array is one member, named by its dotted
path (``"layers.0.weight"``), so ``np.load(path)`` reads it too. A JSON manifest member
records the structure (nested dicts, lists, Tensors, plain numbers and strings) so that
``load`` rebuilds exactly what was saved. Nothing is ever pickled, and ``load`` reads
with ``allow_pickle=False``: a file holding object arrays is refused, never executed.

Writes are atomic: the data goes to a temporary file in the target's directory, is
flushed to disk, and only then renamed over the target with ``os.replace``; a crash
mid-write leaves the previous file intact.
"""

from __future__ import annotations

import json
import os
import secrets
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from autograd import Tensor

__all__ = ["save", "load"]

MANIFEST = "__chaingrad_manifest__"
FORMAT = "chaingrad"
VERSION = 1


class _Encoder:
    """Turn an object tree into a JSON-able manifest plus a dict of named arrays."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def _name(self, path: list[str]) -> str:
        base = ".".join(path) or "array"
        name, k = base, 1
        while name in self.arrays or name == MANIFEST:
            name, k = f"{base}#{k}", k + 1
        return name

    def _array(self, arr: np.ndarray, path: list[str]) -> str:
        if arr.dtype.hasobject:
            where = ".".join(path) or "the object"
            raise TypeError(
                f"nn.save: {where} is an array of dtype {arr.dtype} (Python objects); only "
                f"numeric, bool and string arrays can be saved (the format never pickles)"
            )
        name = self._name(path)
        self.arrays[name] = arr
        return name

    def encode(self, obj: Any, path: list[str]) -> dict[str, Any]:
        if isinstance(obj, Tensor):
            return {"t": "tensor", "k": self._array(obj.data, path), "rg": obj.requires_grad}
        if isinstance(obj, np.ndarray):
            return {"t": "array", "k": self._array(obj, path)}
        if isinstance(obj, np.generic):
            return {"t": "scalar", "k": self._array(np.asarray(obj), path)}
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return {"t": "value", "v": obj}
        if isinstance(obj, dict):
            items = []
            for key, value in obj.items():
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise TypeError(
                        f"nn.save: dict keys must be str or int, got {key!r} "
                        f"({type(key).__name__}) at {'.'.join(path) or 'the top level'}"
                    )
                items.append([key, self.encode(value, [*path, str(key)])])
            return {"t": "dict", "items": items}
        if isinstance(obj, (list, tuple)):
            kind = "list" if isinstance(obj, list) else "tuple"
            items = [self.encode(v, [*path, str(i)]) for i, v in enumerate(obj)]
            return {"t": kind, "items": items}
        where = ".".join(path) or "the top level"
        raise TypeError(
            f"nn.save: cannot save a {type(obj).__name__} at {where}; "
            f"supported: Tensor, numpy array or scalar, dict, list, tuple, str, int, float, "
            f"bool, None"
        )


def _decode(node: dict[str, Any], arrays: dict[str, np.ndarray]) -> Any:
    kind = node["t"]
    if kind == "value":
        return node["v"]
    if kind == "array":
        return arrays[node["k"]]
    if kind == "scalar":
        return arrays[node["k"]][()]
    if kind == "tensor":
        return Tensor(arrays[node["k"]], requires_grad=bool(node["rg"]))
    if kind == "dict":
        return {key: _decode(value, arrays) for key, value in node["items"]}
    if kind == "list":
        return [_decode(v, arrays) for v in node["items"]]
    if kind == "tuple":
        return tuple(_decode(v, arrays) for v in node["items"])
    raise ValueError(f"unknown manifest entry type {kind!r}")


def _write_npz(f: Any, arrays: dict[str, np.ndarray], compress: bool) -> None:
    """Write ``arrays`` as ``.npz`` members to the open binary file ``f``."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(f, mode="w", compression=method, allowZip64=True) as zf:
        for name, arr in arrays.items():
            with zf.open(name + ".npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(arr), allow_pickle=False)


def save(obj: Any, path: str | os.PathLike[str], compress: bool = False) -> Path:
    """Save a state dict, a Tensor, an array, or nested dicts / lists of them to ``path``.

    The file is written atomically (temporary file + ``os.replace``) at exactly ``path``
    (no suffix is added). ``compress=True`` deflates the members. Returns the path.
    """
    path = Path(path)
    encoder = _Encoder()
    root = encoder.encode(obj, [])
    manifest = json.dumps({"format": FORMAT, "version": VERSION, "root": root})
    arrays = {MANIFEST: np.array(manifest), **encoder.arrays}
    directory = path.parent
    if not directory.is_dir():
        raise FileNotFoundError(f"nn.save: the directory of {path} does not exist")
    tmp = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_npz(f, arrays, compress)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def load(path: str | os.PathLike[str]) -> Any:
    """Load what :func:`save` wrote (or any pickle-free ``.npz`` / ``.npy``).

    A file from ``save`` comes back as saved (state dicts as dicts of arrays, Tensors as
    Tensors); another ``.npz`` comes back as a dict of its arrays, a ``.npy`` as its
    array. Object (pickled) arrays are refused with ``ValueError``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"nn.load: no such file: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"nn.load: {path} is a directory, not a saved file")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(
            f"nn.load: {path} is not a readable .npz or .npy file (pickled data is never "
            f"loaded): {exc}"
        ) from exc
    if isinstance(loaded, np.ndarray):
        return loaded
    arrays: dict[str, np.ndarray] = {}
    with loaded:
        for key in loaded.files:
            try:
                arrays[key] = loaded[key]
            except ValueError as exc:
                if "allow_pickle" not in str(exc):
                    raise ValueError(f"nn.load: {path} member {key!r} is damaged: {exc}") from exc
                raise ValueError(
                    f"nn.load: {path} member {key!r} is an object array, which needs pickle "
                    f"to load; refusing it (only numeric, bool and string arrays are read)"
                ) from exc
            except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
                raise ValueError(f"nn.load: {path} member {key!r} is damaged: {exc}") from exc
    if MANIFEST not in arrays:
        return arrays
    try:
        manifest = json.loads(str(arrays.pop(MANIFEST)[()]))
        if manifest.get("format") != FORMAT:
            raise ValueError(f"format {manifest.get('format')!r}")
        if manifest.get("version") != VERSION:
            raise ValueError(f"version {manifest.get('version')!r}, this reader knows {VERSION}")
        return _decode(manifest["root"], arrays)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"nn.load: {path} has a damaged or unknown manifest: {exc}") from exc
