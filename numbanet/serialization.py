"""``nb.save`` / ``nb.load``: tensors and nested dicts/lists of them, without pickle.

The file format (version 1) is a ZIP archive holding:

- ``numbanet.json``: ``{"format": "numbanet", "version": 1, "root": <node>}``, where a
  node is a JSON number, string, bool or null; ``{"list": [...]}``; ``{"tuple": [...]}``;
  ``{"dict": [[key, node], ...]}`` (keys are strings, ints, floats, bools or null); or
  ``{"tensor": "tensors/N.npy", "dtype": "float32", "device": "cpu", "requires_grad": false}``.
- ``tensors/N.npy``: each tensor's values in NumPy's ``.npy`` format, each member named
  by one tensor entry only.

Nothing in the file can run code when it is loaded, and nothing it declares is trusted:
every node of the header is checked (containers nest at most ``MAX_DEPTH`` deep), and the
arrays are read through ``fileio``, which checks each header's shape against the bytes
really there and refuses compression bombs, before allocating. Files are written to a
temporary name beside the target and renamed at the end, so a crash never leaves half a
file under the target's name.
"""
from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np

from . import dtypes as dt
from .device import CPU, as_device
from .fileio import ArchiveError, open_zip, read_json_member, read_npy_member, write_atomically
from .tensor import Tensor

FORMAT = "numbanet"
VERSION = 1
_KEYS = (str, int, float, bool, type(None))
_DTYPES = {d.name: d for d in dt.ALL}
_TENSOR_FIELDS = {"tensor", "dtype", "device", "requires_grad"}
# containers may nest this deep (a state dict is 2 or 3 levels); save refuses deeper ones,
# so that load never recurses without bound on a crafted header
MAX_DEPTH = 100


def _encode(obj, arrays: list, where: str, depth: int = 0):
    if isinstance(obj, Tensor):
        name = f"tensors/{len(arrays)}.npy"
        arrays.append((name, obj.detach().cpu().numpy()))
        return {"tensor": name, "dtype": obj.dtype.name, "device": str(obj.device),
                "requires_grad": obj.requires_grad}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if isinstance(obj, (list, tuple, dict)) and depth >= MAX_DEPTH:
        raise ValueError(f"save: the containers nest more than {MAX_DEPTH} deep at {where[:80]}"
                         "...; numbanet files hold at most that many levels (a list that "
                         "contains itself nests without end)")
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, arrays, f"{where}[{i}]", depth + 1)
                       for i, v in enumerate(obj)]}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, _KEYS):
                raise TypeError(f"save: dict key {k!r} at {where} is a {type(k).__name__}; "
                                "keys must be strings, numbers, bools or None")
            items.append([k, _encode(v, arrays, f"{where}[{k!r}]", depth + 1)])
        return {"dict": items}
    raise TypeError(f"save: can't store a {type(obj).__name__} (at {where}); numbanet files hold "
                    "tensors, numbers, strings, None and lists/tuples/dicts of them")


def save(obj, path) -> None:
    """Write ``obj`` (a tensor, a state dict, nested lists/dicts of tensors) to ``path``.

    The file is written beside ``path`` and renamed over it once complete, so a failed
    save leaves the previous file intact."""
    arrays: list = []
    header = {"format": FORMAT, "version": VERSION, "root": _encode(obj, arrays, "obj")}

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
            z.writestr("numbanet.json", json.dumps(header))
            for name, array in arrays:
                buf = io.BytesIO()
                np.save(buf, np.asarray(array, order="C"), allow_pickle=False)
                z.writestr(name, buf.getvalue())
    write_atomically(path, write, "save")


class _Reader:
    """Turns the header's root node back into objects, checking every node first: its
    kind and fields, its dtype (one of numbanet's), its device and its member (present,
    read once, an array whose size fits the archive)."""

    def __init__(self, z, path, map_location):
        self.z, self.path, self.map_location = z, path, map_location
        self.members = set(z.namelist())
        self.used: set = set()

    def bad(self, why):
        return ArchiveError(f"load: {self.path!r} is not a valid numbanet file: {why}")

    def decode(self, node, depth: int = 0):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if not isinstance(node, dict) or not node:
            raise self.bad(f"unexpected entry {str(node)[:60]!r}")
        if "tensor" in node:
            return self.tensor(node)
        if depth >= MAX_DEPTH:
            raise self.bad(f"its containers nest more than {MAX_DEPTH} deep")
        kind, value = next(iter(node.items())) if len(node) == 1 else (None, None)
        if kind in ("list", "tuple") and isinstance(value, list):
            items = [self.decode(v, depth + 1) for v in value]
            return items if kind == "list" else tuple(items)
        if kind == "dict" and isinstance(value, list):
            out = {}
            for item in value:
                if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], _KEYS)):
                    raise self.bad(f"a dict entry must be [key, value] with a string, number, "
                                   f"bool or null key, got {str(item)[:60]!r}")
                out[item[0]] = self.decode(item[1], depth + 1)
            return out
        raise self.bad(f"unknown entry {str(node)[:60]!r}; an entry is a number, string, "
                       "bool, null, {'list': [...]}, {'tuple': [...]}, {'dict': [...]} or a "
                       "tensor")

    def tensor(self, node):
        member, dtype_name = node.get("tensor"), node.get("dtype")
        saved, requires_grad = node.get("device", "cpu"), node.get("requires_grad", False)
        if not set(node) <= _TENSOR_FIELDS or not isinstance(member, str) \
                or not isinstance(saved, str) or not isinstance(requires_grad, bool):
            raise self.bad(f"a tensor entry is {{'tensor': member name, 'dtype': name, "
                           f"'device': name, 'requires_grad': bool}}, got {str(node)[:80]!r}")
        dtype = _DTYPES.get(dtype_name) if isinstance(dtype_name, str) else None
        if dtype is None:
            raise self.bad(f"tensor {member!r} has dtype {dtype_name!r}; numbanet files hold "
                           f"{', '.join(_DTYPES)}")
        if member not in self.members:
            raise self.bad(f"tensor {member!r} is missing from the archive")
        if member in self.used:
            raise self.bad(f"tensor {member!r} is named twice in the header")
        self.used.add(member)
        try:
            saved_device = as_device(saved)
        except (TypeError, RuntimeError) as e:
            raise self.bad(f"tensor {member!r} has device {saved!r} ({e})") from e
        device = self.target(saved_device)
        array = read_npy_member(self.z, member, f"load: {self.path!r}")
        if array.dtype != dtype.numpy:
            raise self.bad(f"tensor {member!r} holds {array.dtype}, header says {dtype}")
        if device is not CPU:
            try:
                data = device.backend.from_host(array)
            except RuntimeError as e:
                raise RuntimeError(f"load: {self.path!r} holds a tensor saved on '{saved}' that "
                                   f"can't go to '{device}': {e} Load it with "
                                   "map_location='cpu' (or another device that exists "
                                   "here)") from e
        else:
            data = array
        t = Tensor._wrap(data, device, dtype)
        if requires_grad and dtype.is_floating_point:
            t.requires_grad_(True)
        return t

    def target(self, saved):
        m = self.map_location
        if m is None:
            return saved
        if callable(m):
            return as_device(m(str(saved)))
        if isinstance(m, dict):
            return as_device(m.get(str(saved), str(saved)))
        return as_device(m)


def load(path, map_location=None):
    """Read what ``save`` wrote. ``map_location`` ('cpu', a device, a dict
    {saved: new} or a function) chooses the device of the loaded tensors."""
    path = os.fspath(path)
    with open_zip(path, "load") as z:
        if "numbanet.json" not in z.namelist():
            raise ArchiveError(f"load: {path!r} is a ZIP archive but not a numbanet file (no "
                               "numbanet.json inside)")
        header = read_json_member(z, "numbanet.json", f"load: {path!r}")
        if not isinstance(header, dict) or header.get("format") != FORMAT \
                or "root" not in header:
            raise ArchiveError(f"load: {path!r} is not a numbanet file (wrong header)")
        if header.get("version") != VERSION:
            raise ArchiveError(f"load: {path!r} has format version {header.get('version')!r}; "
                               f"this numbanet reads version {VERSION}")
        return _Reader(z, path, map_location).decode(header.get("root"))
