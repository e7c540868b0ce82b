"""Graph files (.nbg) from anywhere: ``numbanet.jit.load`` checks the whole file (schema and
types of graph.json, the op allow-list, references, attributes, every declared shape and
dtype against what the op makes of its inputs, constant indices against the dimension they
index, stored arrays against their declarations, member sizes) before anything runs, and
every error is a ValueError naming the file; ``TracedGraph.save`` replaces the previous
file only once the new one is complete; the fused-kernel cache runs only code it generated,
from a private folder."""
from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import textwrap
import zipfile
import zlib

import numpy as np
import pytest

import numbanet as nb
import numbanet.jit as jit
from numbanet import dtypes as dt
from numbanet import nn
from numbanet.autograd import grad
from numbanet.graph import fusion, serialization
from numbanet.graph.ir import Graph
from numbanet.graph.recorder import Recorder
from numbanet.graph.serialization import save_graph
from numbanet.nn import functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ---- files that numbanet writes load back and compute the same -------------------------------

def _models():
    conv = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, stride=2), nn.BatchNorm2d(3),
                         nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
                         nn.AvgPool2d(2, padding=1, count_include_pad=False), nn.Flatten(),
                         nn.Linear(12, 4), nn.LogSoftmax(dim=1)).eval()

    class Text(nn.Module):
        def __init__(self):
            super().__init__()
            self.table = nn.Parameter(nb.randn(10, 4))
            self.rnn = nn.LSTM(4, 3, batch_first=True)

        def forward(self, tokens):
            out, _ = self.rnn(self.table[tokens].reshape(2, 3, 4))
            return out[:, -1].softmax(1)

    def tensor_ops(x, idx):
        y = x.clone()
        y[:, 1] = 0.0
        picked = x[idx]
        flags = (x > 0).float()
        return (nb.where(x > 0.5, x, -x) + flags, y.argmax(1), picked.sum(0),
                nb.cat([x, y], 1)[1:3].t().contiguous(), (x.max(0).values - 1) ** 2)

    yield conv, (nb.randn(2, 2, 9, 9),)
    yield Text(), (nb.tensor(np.array([1, 2, 3, 4, 5, 9])),)
    yield tensor_ops, (nb.randn(4, 3), nb.tensor(np.array([0, 2])))


@pytest.mark.parametrize("index", range(3))
def test_every_traced_model_saves_and_loads_through_the_checks(tmp_path, index):
    nb.manual_seed(index)
    model, inputs = list(_models())[index]
    graph = jit.trace(model, inputs)
    path = tmp_path / "m.nbg"
    graph.save(path)
    with zipfile.ZipFile(path) as z:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
    loaded = jit.load(path)
    got, want = loaded(*inputs), graph(*inputs)
    for a, b in zip(*(r if isinstance(r, (tuple, list)) else (r,) for r in (got, want))):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_gradient_graphs_of_windows_load_through_the_checks(tmp_path):
    # col2im, max_pool2d_backward, avg_pool2d_backward: what autograd records on a graph
    rec = Recorder()
    x = rec.tensor(rec.source("placeholder", "x", (2, 1, 6, 6), nb.float32), True)
    w = rec.tensor(rec.source("variable", "w", (2, 1, 3, 3), nb.float32), True)
    y = F.conv2d(x, w, padding=1)
    loss = (F.max_pool2d(y, 2, padding=1) ** 2).sum() + F.avg_pool2d(y, 3, stride=2).sum()
    gx, gw = grad(loss, [x, w])
    outputs = [rec.value_of(t) for t in (loss, gx, gw)]
    for op in ("col2im", "max_pool2d_backward", "avg_pool2d_backward"):
        assert any(n.op == op for n in rec.graph.nodes)
    weights = {"w": np.random.default_rng(0).standard_normal((2, 1, 3, 3), np.float32)}
    traced = jit.TracedGraph(rec.graph, [("x", (2, 1, 6, 6), nb.float32)], outputs, "tuple",
                             weights)
    traced.save(tmp_path / "g.nbg")
    xv = nb.randn(2, 1, 6, 6)
    for a, b in zip(jit.load(tmp_path / "g.nbg")(xv), traced(xv)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


# ---- crafting files ---------------------------------------------------------------------------

def base_graph(path):
    """input (5, 4) -> index_put at the constant rows [0, 3] with ones -> relu."""
    g = Graph()
    x = g.add("placeholder", (), {"name": "input_0"}, [((5, 4), dt.float32)], "input_0").out
    idx = g.constant(np.array([0, 3], np.int64))
    src = g.constant(np.ones((2, 4), np.float32))
    put = g.add("index_put", (x, idx, src), {"axis": 0}, [((5, 4), dt.float32)]).out
    out = g.add("unary", (put,), {"op": "relu"}, [((5, 4), dt.float32)]).out
    save_graph(path, g, [("input_0", (5, 4), dt.float32)], [out], "tensor", {})
    return path


def rewrite(path, edit):
    """``path`` rewritten after ``edit(meta, members)`` changed its graph.json (a dict) and
    members (name -> bytes)."""
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(members.pop("graph.json"))
    edit(meta, members)
    with zipfile.ZipFile(path, "w") as z:
        for name, blob in members.items():
            z.writestr(name, blob)
        z.writestr("graph.json", json.dumps(meta))
    return path


def npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def refused(path, match):
    with pytest.raises(ValueError, match=match) as info:
        jit.load(path)
    assert str(path) in str(info.value)
    return info.value


def test_the_crafted_index_put_file_is_refused_at_load_without_a_crash(tmp_path):
    path = rewrite(base_graph(tmp_path / "bomb.nbg"), lambda meta, members: members.update(
        {"constants/1.npy": npy(np.array([0, 10**6], np.int64))}))
    script = textwrap.dedent(f"""
        import numbanet as nb, numbanet.jit
        try:
            numbanet.jit.load({str(path)!r})(nb.randn(5, 4))
        except ValueError as e:
            print("REFUSED", e)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, PYTHONPATH=ROOT))
    assert done.returncode == 0, done.stderr
    assert "REFUSED" in done.stdout and "bomb.nbg" in done.stdout
    assert "node 3 (index_put)" in done.stdout and "1000000" in done.stdout


def test_an_intact_file_loads_and_runs(tmp_path):
    x = nb.randn(5, 4)
    got = jit.load(base_graph(tmp_path / "ok.nbg"))(x).numpy()
    expected = np.maximum(x.numpy(), 0)
    expected[[0, 3]] = 1
    np.testing.assert_array_equal(got, expected)


def _node(n):
    return lambda meta: meta["nodes"][n]


@pytest.mark.parametrize("edit, match", [
    # references: to itself, to a later node, to an output that does not exist
    (lambda m: _node(3)(m)["inputs"].__setitem__(0, {"node": 3, "index": 0}),
     "node 3 .*refers to node 3"),
    (lambda m: _node(3)(m)["inputs"].__setitem__(0, {"node": 4, "index": 0}),
     "node 3 .*refers to node 4"),
    (lambda m: _node(3)(m)["inputs"].__setitem__(0, {"node": 0, "index": 1}),
     "refers to output 1 of node 0"),
    (lambda m: _node(3)(m)["inputs"].__setitem__(0, {"node": -1, "index": 0}),
     "refers to node -1"),
    # op names outside the allow-list
    (lambda m: _node(4)(m).__setitem__("op", "__import__"), "op '__import__'"),
    (lambda m: _node(4)(m).__setitem__("op", "fused"), "op 'fused'"),
    (lambda m: _node(4)(m)["attrs"].__setitem__("op", "system"), "attribute 'op'"),
    # attribute types and ranges
    (lambda m: _node(3)(m)["attrs"].__setitem__("axis", "0"), "attribute 'axis' must be an int"),
    (lambda m: _node(3)(m)["attrs"].__setitem__("axis", 1.0), "attribute 'axis' must be an int"),
    (lambda m: _node(3)(m)["attrs"].__setitem__("axis", 7), "axes \\(7,\\)"),
    (lambda m: _node(3)(m)["attrs"].__setitem__("axis", {"dict": {}}), "attribute value"),
    (lambda m: _node(3)(m)["attrs"].update(extra=1), "takes the attributes \\['axis'\\]"),
    (lambda m: _node(3)(m)["inputs"].pop(), "takes 3 input"),
    (lambda m: _node(3)(m)["inputs"].__setitem__(2, {"literal": 1.0, "dtype": "float32"}),
     "arrays only"),
    (lambda m: _node(4)(m)["inputs"].__setitem__(0, {"literal": 10**30, "dtype": "int64"}),
     "int64 literal"),
    (lambda m: _node(4)(m)["inputs"].__setitem__(0, None), "has the input None"),
    (lambda m: _node(4)(m).__setitem__("id", 7), "node ids count up"),
    (lambda m: _node(4)(m).pop("attrs"), "must be an object with the keys"),
    (lambda m: m.__setitem__("nodes", {"0": {}}), "'nodes' must be a list"),
    # declared shapes and dtypes against what the op makes
    (lambda m: _node(3)(m)["outputs"].__setitem__(0, {"shape": [1000, 1000], "dtype": "float32"}),
     "declares the outputs \\(float32\\[1000, 1000\\]\\), but .* give \\(float32\\[5, 4\\]\\)"),
    (lambda m: _node(4)(m)["outputs"].__setitem__(0, {"shape": [1000, 1000], "dtype": "float32"}),
     "shape \\(5, 4\\) does not broadcast to the output's \\(1000, 1000\\)"),
    (lambda m: _node(4)(m)["outputs"].__setitem__(0, {"shape": [5, 4], "dtype": "int64"}),
     "relu keeps its operands' dtype"),
    (lambda m: _node(4)(m)["outputs"].__setitem__(0, {"shape": [5, 4], "dtype": "object"}),
     "output dtype must be one of"),
    (lambda m: _node(4)(m)["outputs"].__setitem__(0, {"shape": [5, -4], "dtype": "float32"}),
     "non-negative ints"),
    (lambda m: _node(0)(m)["outputs"].__setitem__(0, {"shape": [2**40, 2**40],
                                                      "dtype": "float32"}),
     "more than"),
    (lambda m: _node(1)(m)["outputs"].__setitem__(0, {"shape": [3], "dtype": "int64"}),
     "declares a constant \\(int64\\[3\\]\\), but its array is int64\\[2\\]"),
    (lambda m: _node(1)(m)["outputs"].__setitem__(0, {"shape": [2], "dtype": "float64"}),
     "its array is int64\\[2\\]"),
    # the file's own tables
    (lambda m: m["inputs"][0].__setitem__("shape", [6, 4]), "input 'input_0' is not a"),
    (lambda m: _node(4)(m).update(op="placeholder", inputs=[], attrs={"name": "input_0"}),
     "two placeholders are named 'input_0'"),
    (lambda m: _node(4)(m)["inputs"].__setitem__(0, {"literal": 10**400, "dtype": "float32"}),
     "float32 literal"),
    (lambda m: m.__setitem__("inputs", []), "placeholders \\['input_0'\\] are not listed"),
    (lambda m: m["inputs"][0].__setitem__("name", ["input_0"]), "'inputs' must be a list"),
    (lambda m: m["outputs"].__setitem__(0, {"node": 99, "index": 0}), "the output"),
    (lambda m: m.__setitem__("structure", "dict"), "'structure'"),
    (lambda m: m["constants"].pop("2"), "constant whose array is not in the file"),
    (lambda m: m["constants"].__setitem__("4", "constants/2.npy"), "not a constant"),
    (lambda m: m.__setitem__("version", 99), "version 99"),
    (lambda m: m.__setitem__("format", "numbanet.tensors"), "not a numbanet graph file"),
])
def test_a_crafted_graph_json_is_refused_with_an_error_naming_the_file(tmp_path, edit, match):
    path = rewrite(base_graph(tmp_path / "crafted.nbg"), lambda meta, members: edit(meta))
    refused(path, match)


def _op_graph(path, op, inputs, attrs, out):
    """A file whose node 2 applies ``op`` to a (2, 3, 4, 4) float32 placeholder (node 0) and a
    constant (node 1, ``inputs[1]`` when given) and declares ``out``."""
    g = Graph()
    x = g.add("placeholder", (), {"name": "x"}, [((2, 3, 4, 4), dt.float32)], "x").out
    ins = [x][:len(inputs)] + [g.constant(a) for a in inputs[1:]]
    node = g.add(op, ins, attrs, out)
    save_graph(path, g, [("x", (2, 3, 4, 4), dt.float32)], node.outputs, "tuple", {})
    return path


F32 = dt.float32


@pytest.mark.parametrize("op, inputs, attrs, out, match", [
    ("permute", [0], {"perm": (0, 0, 1, 2)}, [((2, 2, 3, 4), F32)], "not a permutation"),
    ("reshape", [0], {"shape": (10 ** 6,)}, [((10 ** 6,), F32)], "does not hold the 96"),
    ("broadcast", [0], {"shape": (2, 3, 4, 5)}, [((2, 3, 4, 5), F32)], "does not broadcast"),
    ("slice", [0], {"key": (slice(0, 2, 0),)}, [((2, 3, 4, 4), F32)], "step must not be zero"),
    ("slice", [0], {"key": (5,)}, [((3, 4, 4), F32)], "index 5 is out of range"),
    ("slice", [0], {"key": (0, 0, 0, 0, 0)}, [((), F32)], "more entries"),
    ("slice", [0], {"key": (slice(0, 10 ** 6),)}, [((10 ** 6, 3, 4, 4), F32)], "declares"),
    ("reduce", [0], {"op": "sum", "axes": (1, 1), "dtype": F32}, [((2, 4, 4), F32)],
     "not distinct"),
    ("argreduce", [0], {"op": "max", "axis": 9}, [((2, 3, 4), dt.int64)], "axes \\(9,\\)"),
    ("index_select", [0, np.array([0, 7])], {"axis": 1}, [((2, 2, 4, 4), F32)],
     "holds 7, outside \\[-3, 2\\]"),
    ("index_select", [0, np.array([[0]])], {"axis": 1}, [((2, 1, 4, 4), F32)],
     "1-D int64"),
    ("index_select", [0, np.array([0.0])], {"axis": 1}, [((2, 1, 4, 4), F32)], "1-D int64"),
    ("matmul", [0, np.ones((5, 2), np.float32)], {}, [((2, 3, 4, 2), F32)], "4 != 5"),
    ("im2col", [0], {"geo": (3, 3, 0, 1, 0, 0, 1, 1), "out_hw": (2, 2)},
     [((27, 2, 4), F32)], "at least 1"),
    ("im2col", [0], {"geo": (3, 3, 1, 1, 0, 0, 1, 1), "out_hw": (9, 9)},
     [((27, 2, 81), F32)], "output height of 9"),
    ("max_pool2d", [0], {"geo": (2, 2, 2, 2, 0, 0, 1, 1), "out_hw": (2, 2)},
     [((2, 3, 2, 2), F32)], "declares"),
    ("max_pool2d_backward", [0, np.full((2, 3, 4, 4), 10 ** 9)],
     {"geo": (1, 1, 1, 1, 0, 0, 1, 1), "shape": (2, 3, 4, 4)}, [((2, 3, 4, 4), F32)],
     "holds 1000000000, outside \\[-1, 15\\]"),
    ("avg_pool2d", [0], {"geo": (2, 2, 2, 2, 0, 0, 1, 1), "out_hw": (2, 2),
                         "count_include_pad": 1, "divisor_override": 0},
     [((2, 3, 2, 2), F32)], "'count_include_pad' must be true or false"),
    ("full", [0], {"value": 1.0}, [((2,), F32)], "takes 0 input"),
    ("full", [], {"value": 10 ** 400}, [((2,), F32)], "must be a float or an int64"),
    ("full", [], {"value": 1.0}, [((2 ** 20, 2 ** 20), F32)], "more than this machine's"),
    ("arange", [], {"start": 0, "stop": 1.0, "step": 5e-324}, [((2,), F32)],
     "more than 1099511627776 elements"),
    ("slice", [0], {"key": (slice(0, 10 ** 30),)}, [((2, 3, 4, 4), F32)], "int64s or null"),
    ("unary", [0], {"op": "exp"}, [((2, 3, 4, 4), dt.int64)], "keeps its operands' dtype"),
])
def test_a_node_that_disagrees_with_its_op_schema_is_refused(tmp_path, op, inputs, attrs,
                                                             out, match):
    refused(_op_graph(tmp_path / "op.nbg", op, inputs, attrs, out), match)


def test_stored_arrays_must_match_their_declarations(tmp_path):
    model = nn.Linear(3, 2)
    path = tmp_path / "lin.nbg"
    jit.trace(model, nb.randn(4, 3)).save(path)
    with zipfile.ZipFile(path) as z:
        member = json.loads(z.read("graph.json"))["variables"]["weight"]
    for wrong, match in [(np.zeros((2, 4), np.float32), "declared float32\\[2, 3\\] but the "
                                                        "file holds an array float32\\[2, 4\\]"),
                         (np.zeros((2, 3), np.float64), "holds an array float64"),
                         (np.zeros((2, 3), np.complex64), "complex64")]:
        # rewrite calls the edit at once, in this iteration
        rewrite(path, lambda meta, members: members.update({member: npy(wrong)}))  # noqa: B023
        refused(path, match)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False,
                                                  "shape": (2, 3)})
    rewrite(path, lambda meta, members: members.update(
        {member: header.getvalue() + bytes(48)}))
    refused(path, "Python objects")


# ---- damaged archives, bombs, missing files ----------------------------------------------------

def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.nbg"):
        jit.load(tmp_path / "nope.nbg")


def test_a_truncated_archive_is_a_value_error_with_the_zip_error_chained(tmp_path):
    path = base_graph(tmp_path / "cut.nbg")
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    error = refused(path, "cut.nbg")
    assert isinstance(error.__cause__, zipfile.BadZipFile)


def test_a_damaged_member_is_a_value_error_with_the_zip_error_chained(tmp_path):
    path = base_graph(tmp_path / "flip.nbg")
    data = bytearray(path.read_bytes())
    at = data.index(b"\x93NUMPY") + 130
    data[at] ^= 0xFF  # inside the first array's data: its CRC no longer matches
    path.write_bytes(bytes(data))
    error = refused(path, "flip.nbg")
    assert isinstance(error.__cause__, (zipfile.BadZipFile, zlib.error))


def test_a_member_that_inflates_far_beyond_its_size_is_refused_before_reading(tmp_path):
    path = base_graph(tmp_path / "zip_bomb.nbg")
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    header = members["constants/2.npy"][:128]
    with zipfile.ZipFile(path, "w") as z:
        for name, blob in members.items():
            if name != "constants/2.npy":
                z.writestr(name, blob)
        info = zipfile.ZipInfo("constants/2.npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as f:
            f.write(header)
            zeros = bytes(1 << 24)
            for _ in range(32):  # 512 MiB of zeros, about 0.5 MB deflated
                f.write(zeros)
    assert path.stat().st_size < 2 << 20
    refused(path, "inflate")


def test_an_array_header_claiming_far_more_than_the_member_holds_is_refused(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (10 ** 6, 10 ** 6)})
    path = rewrite(base_graph(tmp_path / "claims.nbg"), lambda meta, members: members.update(
        {"constants/2.npy": header.getvalue() + bytes(32)}))
    refused(path, "constants/2.npy.*declares shape \\(1000000, 1000000\\)")


def test_a_graph_json_that_is_not_json_is_refused(tmp_path):
    path = rewrite(base_graph(tmp_path / "text.nbg"), lambda meta, members: None)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("graph.json", "[" * 100000)
    refused(path, "text.nbg")


# ---- saving -----------------------------------------------------------------------------------

def test_a_save_that_fails_midway_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.nbg"
    jit.trace(nn.Linear(3, 2), nb.randn(4, 3)).save(path)
    before = path.read_bytes()
    other = jit.trace(nn.Sequential(nn.Linear(3, 8), nn.Linear(8, 2)), nb.randn(4, 3))
    calls = []

    def failing(array):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return npy(array)

    monkeypatch.setattr(serialization, "_npy", failing)
    with pytest.raises(OSError, match="No space left"):
        other.save(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.nbg"]
    jit.load(path)(nb.randn(4, 3))


# ---- the fused-kernel cache -------------------------------------------------------------------

def _fused_graph():
    return jit.trace(lambda a, b: ((a * b + 1.0).relu() * 3.0).tanh(), (nb.randn(3, 2),
                                                                        nb.randn(3, 2)))


def _program(graph):
    plan = graph._plan(nb.device("cpu"))
    return next(n.attrs["program"] for n in plan.nodes if n.op == "fused")


def _plant(folder, program, marker):
    """A file at the path the kernel of ``program`` would have, holding other code."""
    path = fusion.kernel_path(str(folder), program, "cpu")
    with open(path, "w") as f:
        f.write(f"open({str(marker)!r}, 'w').write('ran')\n")
    return path


def test_a_cache_folder_that_others_can_write_is_not_used(tmp_path, monkeypatch):
    folder = tmp_path / "cache" / "fused"
    folder.mkdir(parents=True)
    os.chmod(folder, 0o777)
    monkeypatch.setenv("NUMBANET_CACHE_DIR", str(tmp_path / "cache"))
    assert fusion.cache_dir() is None
    graph = _fused_graph()
    fusion._KERNELS.clear()
    marker = tmp_path / "planted_ran"
    planted = _plant(folder, _program(graph), marker)
    a, b = nb.randn(3, 2), nb.randn(3, 2)
    np.testing.assert_allclose(graph(a, b).numpy(), graph(a, b, optimize=False).numpy(),
                               rtol=1e-6)
    assert not marker.exists()
    assert open(planted).read().startswith("open(")  # left alone, never read


def test_a_cache_folder_of_another_owner_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBANET_CACHE_DIR", str(tmp_path))
    assert fusion.cache_dir() == str(tmp_path / "fused")
    assert stat.S_IMODE(os.stat(tmp_path / "fused").st_mode) == 0o700
    real = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: real + 1)
    assert fusion.cache_dir() is None


def test_the_temp_dir_fallback_refuses_a_folder_made_by_someone_else(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    os.chmod(home, 0o500)  # the usual cache folder cannot be made
    monkeypatch.delenv("NUMBANET_CACHE_DIR", raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(fusion.tempfile, "gettempdir", lambda: str(tmp_path))
    try:
        if os.access(home, os.W_OK):  # root writes anywhere: make the home a file instead
            os.chmod(home, 0o700)
            home.rmdir()
            home.write_text("")
        squat = tmp_path / f"numbanet-fused-{os.getuid()}"
        squat.mkdir()
        os.chmod(squat, 0o777)  # made world-writable by another user
        assert fusion.cache_dir() is None
        squat.rmdir()
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir(mode=0o700)
        squat.symlink_to(elsewhere)  # a link planted in the temp dir: not a folder of ours
        assert fusion.cache_dir() is None
        squat.unlink()
        assert fusion.cache_dir() == str(squat)
        assert stat.S_IMODE(os.stat(squat).st_mode) == 0o700
    finally:
        if home.is_dir():
            os.chmod(home, 0o700)


def test_a_planted_kernel_whose_content_does_not_match_its_hash_is_never_run(tmp_path,
                                                                           monkeypatch):
    monkeypatch.setenv("NUMBANET_CACHE_DIR", str(tmp_path))
    folder = fusion.cache_dir()
    graph = _fused_graph()
    program = _program(graph)
    fusion._KERNELS.clear()
    marker = tmp_path / "planted_ran"
    planted = _plant(folder, program, marker)
    a, b = nb.randn(3, 2), nb.randn(3, 2)
    graph._plans.clear()
    np.testing.assert_allclose(graph(a, b).numpy(), graph(a, b, optimize=False).numpy(),
                               rtol=1e-6)
    assert not marker.exists()
    assert open(planted).read() == fusion.source_of(program)  # replaced by the real kernel
    assert os.path.basename(planted).startswith("numbanet_fused_cpu_")


# ---- static graphs: a Python list is not an index (TensorFlow 1) -------------------------------

@pytest.mark.parametrize("key", [[0, 2], (0, [1, 2]), np.array([0, 1]), 1.5, "a"])
def test_a_static_tensor_indexed_with_a_list_gets_tensorflows_type_error(key):
    import numbanet.static as tf
    x = tf.placeholder(tf.float32, shape=(4, 3))
    with pytest.raises(TypeError, match="Only integers, slices \\(`:`\\), ellipsis \\(`...`\\), "
                                        "tf.newaxis \\(`None`\\) and scalar tf.int32/tf.int64 "
                                        "tensors are valid indices, got"):
        x[key]


def test_a_static_tensor_still_takes_ints_slices_ellipsis_and_newaxis():
    import numbanet.static as tf
    x = tf.placeholder(tf.float32, shape=(4, 3))
    y = x[1:, None, ..., -1]
    with tf.Session() as sess:
        xv = np.arange(12, dtype=np.float32).reshape(4, 3)
        np.testing.assert_array_equal(sess.run(y, {x: xv}), xv[1:, None, ..., -1])
