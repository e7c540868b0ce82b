"""A graph with its weights in one file, with no Python code in it.

The file is a zip archive (``numbanet.jit`` writes it as ``model.nbg``, any
name works) holding:

``graph.json``
    ``{"format": "numbanet.graph", "version": 1, ...}`` with

    - ``nodes``: the IR (``ir.Graph.to_json``): for each node its ``id`` (0, 1,
      2...), ``op`` (a backend primitive or ``placeholder``/``variable``/
      ``constant``), ``inputs`` (``{"node": id, "index": i}`` for a value,
      ``{"literal": x, "dtype": name}`` for a number), ``attrs`` (JSON, with
      tuples as ``{"tuple": [...]}``, slices as ``{"slice": [start, stop,
      step]}``, dtypes as ``{"dtype": name}``) and ``outputs`` (``shape`` and
      ``dtype`` of each output);
    - ``inputs``: the placeholders, in call order: ``name``, ``shape``, ``dtype``;
    - ``outputs``: the returned values (``{"node": id, "index": i}``) and
      ``structure`` (``"tensor"``, ``"tuple"`` or ``"list"``);
    - ``variables``: variable name -> member file of its value;
    - ``constants``: node id -> member file of its value.

``variables/<k>.npy``, ``constants/<id>.npy``
    Arrays in NumPy's ``.npy`` format, read with ``allow_pickle=False``.

Loading reads JSON and arrays only: nothing is unpickled or executed, and the
program that loads a model needs numbanet, not the code that defined it.
"""
from __future__ import annotations

import io
import json
import zipfile

import numpy as np

from .ir import Graph

FORMAT = "numbanet.graph"
VERSION = 1


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def save_graph(path, graph: Graph, inputs, outputs, structure: str, variables: dict):
    """Write ``graph`` with its ``inputs`` (list of (name, shape, DType)), ``outputs``
    (Values), ``structure`` and ``variables`` (name -> host array) to ``path``."""
    meta = {"format": FORMAT, "version": VERSION}
    meta.update(graph.to_json())
    meta["inputs"] = [{"name": n, "shape": list(s), "dtype": d.name} for n, s, d in inputs]
    meta["outputs"] = [{"node": v.node.id, "index": v.index} for v in outputs]
    meta["structure"] = structure
    meta["variables"] = {}
    meta["constants"] = {}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for k, (name, array) in enumerate(variables.items()):
            member = f"variables/{k}.npy"
            meta["variables"][name] = member
            z.writestr(member, _npy(array))
        for node_id, array in graph.constants.items():
            member = f"constants/{node_id}.npy"
            meta["constants"][str(node_id)] = member
            z.writestr(member, _npy(array))
        z.writestr("graph.json", json.dumps(meta, indent=1))


def load_graph(path):
    """Read a file written by :func:`save_graph`: (graph, inputs, outputs, structure,
    variables)."""
    from .. import dtypes as dt
    from ..serialization import open_archive
    z, meta = open_archive(path, "graph.json", "numbanet graph file (written by graph.save)",
                           "jit.load")
    with z:
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: format {meta.get('format')!r} is not {FORMAT!r}")
        if meta.get("version", 0) > VERSION:
            raise ValueError(f"{path}: graph format version {meta['version']} is newer than "
                             f"this numbanet reads ({VERSION}); upgrade numbanet")

        def array(member):
            return np.load(io.BytesIO(z.read(member)), allow_pickle=False)

        constants = {int(k): array(m) for k, m in meta["constants"].items()}
        variables = {name: array(m) for name, m in meta["variables"].items()}
    graph = Graph.from_json(meta, constants)
    inputs = [(x["name"], tuple(x["shape"]), dt.as_dtype(x["dtype"])) for x in meta["inputs"]]
    outputs = [graph.nodes[o["node"]].outputs[o["index"]] for o in meta["outputs"]]
    return graph, inputs, outputs, meta["structure"], variables
