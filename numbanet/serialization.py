"""``nb.save`` / ``nb.load``: tensors and nested dicts/lists of them, without pickle.

The file format (version 1) is a ZIP archive holding:

- ``numbanet.json``: ``{"format": "numbanet", "version": 1, "root": <node>}``, where a
  node is a JSON number, string, bool or null; ``{"list": [...]}``; ``{"tuple": [...]}``;
  ``{"dict": [[key, node], ...]}`` (keys are strings, ints, floats, bools or null); or
  ``{"tensor": "tensors/N.npy", "dtype": "float32", "device": "cpu", "requires_grad": false}``.
- ``tensors/N.npy``: each tensor's values in NumPy's ``.npy`` format, read back with
  ``allow_pickle=False``.

Nothing in the file can run code when it is loaded. Files are written to a temporary
name beside the target and renamed at the end, so a crash never leaves half a file
under the target's name.
"""
from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np

from . import dtypes as dt
from .device import CPU, as_device
from .fileio import write_atomically
from .tensor import Tensor

FORMAT = "numbanet"
VERSION = 1
_KEYS = (str, int, float, bool, type(None))


def _encode(obj, arrays: list, where: str):
    if isinstance(obj, Tensor):
        name = f"tensors/{len(arrays)}.npy"
        arrays.append((name, obj.detach().cpu().numpy()))
        return {"tensor": name, "dtype": obj.dtype.name, "device": str(obj.device),
                "requires_grad": obj.requires_grad}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, _KEYS):
                raise TypeError(f"save: dict key {k!r} at {where} is a {type(k).__name__}; "
                                "keys must be strings, numbers, bools or None")
            items.append([k, _encode(v, arrays, f"{where}[{k!r}]")])
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
    def __init__(self, z, path, map_location):
        self.z, self.path, self.map_location = z, path, map_location

    def bad(self, why):
        return ValueError(f"load: {self.path!r} is not a valid numbanet file: {why}")

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if not isinstance(node, dict) or len(node) < 1:
            raise self.bad(f"unexpected entry {str(node)[:60]!r}")
        if "tensor" in node:
            return self.tensor(node)
        if "list" in node:
            return [self.decode(v) for v in node["list"]]
        if "tuple" in node:
            return tuple(self.decode(v) for v in node["tuple"])
        if "dict" in node:
            return {k: self.decode(v) for k, v in node["dict"]}
        raise self.bad(f"unknown entry kind {sorted(node)}")

    def tensor(self, node):
        try:
            with self.z.open(node["tensor"]) as f:
                array = np.load(io.BytesIO(f.read()), allow_pickle=False)
            dtype = dt.as_dtype(node["dtype"])
        except (KeyError, ValueError, TypeError, zipfile.BadZipFile, EOFError) as e:
            raise self.bad(f"tensor {node.get('tensor')!r} is missing or damaged ({e})") from None
        if array.dtype != dtype.numpy:
            raise self.bad(f"tensor {node['tensor']!r} holds {array.dtype}, header says {dtype}")
        device = self.target(node.get("device", "cpu"))
        data = device.backend.from_host(array) if device is not CPU else array
        t = Tensor._wrap(data, device, dtype)
        if node.get("requires_grad") and dtype.is_floating_point:
            t.requires_grad_(True)
        return t

    def target(self, saved: str):
        m = self.map_location
        if m is None:
            return as_device(saved)
        if callable(m):
            return as_device(m(saved))
        if isinstance(m, dict):
            return as_device(m.get(saved, saved))
        return as_device(m)


def open_archive(path, header: str, kind: str, op: str):
    """(open zip file, its JSON member ``header``) of a numbanet archive (tensors here,
    graphs in ``graph/serialization.py``); a ValueError naming ``op``, ``path`` and
    ``kind`` when the file is not a zip, has no header or a damaged one."""
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"{op}: {path!r} is not a {kind} (it is not a ZIP archive: {e}); "
                         "it may be truncated, corrupted or of another format") from None
    try:
        return z, json.loads(z.read(header))
    except KeyError:
        z.close()
        raise ValueError(f"{op}: {path!r} is a ZIP archive but not a {kind} "
                         f"(no {header} inside)") from None
    except (ValueError, zipfile.BadZipFile, EOFError) as e:
        z.close()
        raise ValueError(f"{op}: {path!r} is damaged: its header can't be read ({e})") from None


def load(path, map_location=None):
    """Read what ``save`` wrote. ``map_location`` ('cpu', a device, a dict
    {saved: new} or a function) chooses the device of the loaded tensors."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file {path!r}")
    z, header = open_archive(path, "numbanet.json", "numbanet file", "load")
    with z:
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ValueError(f"load: {path!r} is not a numbanet file (wrong header)")
        if header.get("version") != VERSION:
            raise ValueError(f"load: {path!r} has format version {header.get('version')}; this "
                             f"numbanet reads version {VERSION}")
        return _Reader(z, path, map_location).decode(header.get("root"))
