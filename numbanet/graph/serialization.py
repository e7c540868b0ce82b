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
    Arrays in NumPy's ``.npy`` format, stored uncompressed.

Loading reads JSON and arrays only: nothing is unpickled or executed, and the
program that loads a model needs numbanet, not the code that defined it. A file
may come from anyone, so all of it is checked before anything runs: the archive
and its members' sizes (``numbanet/fileio.py``), every node against the schema of
its op (``schema.py``), every array against the shape and dtype declared for it,
and the inputs, outputs and variables tables against the graph.
"""
from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np

from .. import dtypes as dt
from ..fileio import ArchiveError, open_zip, read_json_member, read_npy_member, write_atomically
from .ir import Graph
from .schema import Invalid, as_declared, check_dtype, check_shape

FORMAT = "numbanet.graph"
VERSION = 1
_STRUCTURES = ("tensor", "tuple", "list")


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array, order="C"), allow_pickle=False)  # 0-d stays 0-d
    return buf.getvalue()


def save_graph(path, graph: Graph, inputs, outputs, structure: str, variables: dict):
    """Write ``graph`` with its ``inputs`` (list of (name, shape, DType)), ``outputs``
    (Values), ``structure`` and ``variables`` (name -> host array) to ``path``, atomically:
    a failure leaves the file that was there before. Members are stored uncompressed."""
    meta = {"format": FORMAT, "version": VERSION}
    meta.update(graph.to_json())
    meta["inputs"] = [{"name": n, "shape": list(s), "dtype": d.name} for n, s, d in inputs]
    meta["outputs"] = [{"node": v.node.id, "index": v.index} for v in outputs]
    meta["structure"] = structure
    meta["variables"] = {}
    meta["constants"] = {}

    def write(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as z:
            for k, (name, array) in enumerate(variables.items()):
                member = f"variables/{k}.npy"
                meta["variables"][name] = member
                z.writestr(member, _npy(array))
            for node_id, array in graph.constants.items():
                member = f"constants/{node_id}.npy"
                meta["constants"][str(node_id)] = member
                z.writestr(member, _npy(array))
            z.writestr("graph.json", json.dumps(meta, indent=1))

    write_atomically(path, write, "save")


def _fail(where: str, problem: str):
    raise ArchiveError(f"{where}: {problem}; the file is damaged or was not written by numbanet")


def _table(meta, key: str, where: str) -> dict:
    """``meta[key]``: an object of names to member files."""
    table = meta.get(key)
    if not isinstance(table, dict) or not all(isinstance(k, str) and isinstance(m, str)
                                              for k, m in table.items()):
        _fail(where, f"{key!r} must be an object of names to member files")
    return table


def load_graph(path):
    """Read a file written by :func:`save_graph`: (graph, inputs, outputs, structure,
    variables). The whole file is checked before anything runs (``schema.py``); every
    error is an ArchiveError (a ValueError) that names the file."""
    where = f"jit.load: {os.fspath(path)!r}"
    with open_zip(path, "jit.load") as z:
        meta = read_json_member(z, "graph.json", where)
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            _fail(where, f"it is not a numbanet graph file (its graph.json has no 'format': "
                         f"{FORMAT!r})")
        version = meta.get("version")
        if type(version) is not int or not 1 <= version <= VERSION:
            raise ArchiveError(f"{where}: graph format version {version!r} is not one this "
                               f"numbanet reads (1 to {VERSION}); a newer numbanet may read it")
        constant_members = _table(meta, "constants", where)
        variable_members = _table(meta, "variables", where)
        if not all(k.isdigit() for k in constant_members):
            _fail(where, "the keys of 'constants' must be node ids")
        constants = {int(k): read_npy_member(z, m, where) for k, m in constant_members.items()}
        variables = {name: read_npy_member(z, m, where) for name, m in variable_members.items()}
    graph = Graph.from_json(meta, constants, where)
    for node_id in constants:
        if node_id >= len(graph.nodes) or graph.nodes[node_id].op != "constant":
            _fail(where, f"'constants' holds an array for node {node_id}, which is not a "
                         "constant")
    inputs = _inputs(meta, graph, where)
    _check_variables(graph, variables, where)
    outputs = meta.get("outputs")
    structure = meta.get("structure")
    if structure not in _STRUCTURES or not isinstance(outputs, list) or \
            (structure == "tensor" and len(outputs) != 1):
        _fail(where, f"'structure' must be one of {_STRUCTURES} ('tensor' with one output), "
                     f"got {structure!r}")
    values = []
    for o in outputs:
        ref = o.get("node") if isinstance(o, dict) else None
        if type(ref) is not int or not 0 <= ref < len(graph.nodes) or type(o.get("index")) \
                is not int or not 0 <= o["index"] < len(graph.nodes[ref].outputs):
            _fail(where, f"the output {o!r} is not an output of a node of the graph")
        values.append(graph.nodes[ref].outputs[o["index"]])
    return graph, inputs, values, structure, variables


def _inputs(meta, graph: Graph, where: str) -> list:
    """The declared inputs, which must be the graph's placeholders, in call order."""
    declared = meta.get("inputs")
    if not isinstance(declared, list) or not all(
            isinstance(x, dict) and set(x) == {"name", "shape", "dtype"} and
            isinstance(x["name"], str) for x in declared):
        _fail(where, "'inputs' must be a list of {'name', 'shape', 'dtype'} objects")
    placeholders = _by_name(graph, "placeholder", where)
    inputs = []
    for x in declared:
        v = placeholders.pop(x["name"], None)
        try:
            spec = (x["name"], check_shape(x["shape"], "an input shape"),
                    check_dtype(x["dtype"], "an input dtype"))
        except Invalid as e:
            _fail(where, f"input {x['name']!r}: {e}")
        if v is None or (v.shape, v.dtype) != spec[1:]:
            _fail(where, f"the input {x['name']!r} is not a placeholder of the graph of that "
                         "shape and dtype (or is listed twice)")
        inputs.append(spec)
    if placeholders:
        _fail(where, f"the placeholders {sorted(placeholders)} are not listed in 'inputs'")
    return inputs


def _by_name(graph: Graph, op: str, where: str) -> dict:
    """name -> value of the graph's nodes of ``op`` (placeholder or variable), each name
    once (a second node of one name would never get a value)."""
    found = {}
    for n in graph.nodes:
        if n.op == op:
            if n.attrs["name"] in found:
                _fail(where, f"two {op}s are named {n.attrs['name']!r}")
            found[n.attrs["name"]] = n.out
    return found


def _check_variables(graph: Graph, variables: dict, where: str):
    """Every variable of the graph has an array of its declared shape and dtype, and every
    array of a numbanet dtype."""
    for name, a in variables.items():
        if a.dtype not in {d.numpy for d in dt.ALL}:
            _fail(where, f"the variable {name!r} is of dtype {a.dtype}, which numbanet does not "
                         "hold")
    for name, v in _by_name(graph, "variable", where).items():
        a = variables.get(name)
        if a is not None:
            a = variables[name] = as_declared(a, v.shape)
        if a is None or a.shape != v.shape or a.dtype != v.dtype.numpy:
            got = "no array" if a is None else f"an array {a.dtype}{list(a.shape)}"
            _fail(where, f"the variable {name!r} is declared {v.dtype.name}{list(v.shape)} but "
                         f"the file holds {got} for it")
