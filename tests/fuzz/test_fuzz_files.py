"""Fuzzing the three file formats (nb.save, jit graphs, Keras models and weights) in the
guarded worker: start from a valid file, then flip bits, cut it short, edit its JSON headers
(types changed, numbers huge or negative, references to missing members, deep nesting),
rewrite its .npy headers (huge, negative or enlarged shapes, other dtypes) and make zip
members lie about their sizes. Whatever the bytes, loading either raises a ValueError that
names the file (FileNotFoundError for a missing one) or gives back a usable object; the
loaded object then works; and a file damaged at the byte level never loads as other values
than the ones saved. No case may crash, hang, or grow the worker's memory by hundreds of MiB."""
from __future__ import annotations

import io
import json
import struct
import zipfile

import harness
import numpy as np
import pytest
from harness import (
    EXAMPLES,
    AcceptedFinding,
    BadExceptionFinding,
    Crash,
    CrashFinding,
    RejectedFinding,
    WrongErrorFinding,
    WrongValueFinding,
    bad_exception,
    same_value,
)
from hypothesis import given, settings
from hypothesis import strategies as st

FUZZ = settings(max_examples=EXAMPLES, print_blob=True)
FORMATS = ("nbsave", "jit", "keras", "weights")
BOMB_MIB = 512  # no file here holds more than a few KiB: a load never needs this much

KERAS_MODEL = """
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation='relu'),
                          keras.layers.Dense(2)])
"""
PROBE = np.linspace(-1, 1, 12).reshape(3, 4).astype(np.float32)


def _originals() -> dict:
    """The valid file of each format, as bytes (made once, with numbanet in this process)."""
    import os
    import tempfile

    import numbanet as nb
    from numbanet import keras
    nb.manual_seed(0)
    folder = tempfile.mkdtemp(prefix="numbanet-fuzz-")
    out = {}
    path = os.path.join(folder, "obj.nbz")
    nb.save({"w": nb.randn(3, 4), "b": nb.randn(2, dtype=nb.float64), "n": 3,
             "l": [nb.tensor([1, 2, 3]), nb.tensor([True, False]), "s", None],
             "t": (1.5, nb.tensor(2.5), {"k": nb.zeros(0, 2)})}, path)
    import numbanet.jit

    class Net(nb.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nb.nn.Sequential(nb.nn.Linear(4, 3), nb.nn.ReLU(), nb.nn.Linear(3, 2))

        def forward(self, x):
            return self.body(x).softmax(1) * 2 + x[1:, :2].sum(), x.argmax(1)
    numbanet.jit.trace(Net().eval(), nb.randn(3, 4)).save(os.path.join(folder, "g.nbg"))
    ns = {"keras": keras, "np": np, "nb": nb}
    exec(KERAS_MODEL, ns)
    km = ns["model"]
    km.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    km.fit(PROBE, np.ones((3, 2), np.float32), epochs=1, verbose=0)
    km.save(os.path.join(folder, "m.keras"))
    km.save_weights(os.path.join(folder, "w.weights.npz"))
    for fmt, name in [("nbsave", "obj.nbz"), ("jit", "g.nbg"), ("keras", "m.keras"),
                      ("weights", "w.weights.npz")]:
        with open(os.path.join(folder, name), "rb") as f:
            out[fmt] = f.read()
        os.remove(os.path.join(folder, name))
    os.rmdir(folder)
    return out


@pytest.fixture(scope="module")
def originals(worker):
    """{format: (bytes, the worker's outcome on the valid file)}"""
    found = {}
    for fmt, data in _originals().items():
        outcome = worker.run(file_case(fmt, data, "original"))
        assert outcome[0] == "value", outcome
        found[fmt] = (data, outcome[1])
    return found


def file_case(fmt: str, data, mutation) -> dict:
    return {"kind": "files", "format": fmt, "data": data, "mutation": mutation,
            "build": KERAS_MODEL, "probe": PROBE}


# ---- mutations ----------------------------------------------------------------------------

def members(data: bytes) -> list:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(i.filename, z.read(i.filename), i.compress_type) for i in z.infolist()]


def rezip(items) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, content, compression in items:
            z.writestr(name, content, compress_type=compression)
    return buf.getvalue()


HOSTILE_JSON = [10**18, -1, -(10**18), 0, 2**63, 2**64 + 1, 1e308, -0.5, "x", "", None, True,
                [], {}, [[[[[]]]]], {"tensor": "tensors/999.npy", "dtype": "float32"},
                "tensors/999.npy", "../../outside.npy", "float128", {"node": 999, "index": 0},
                {"node": -1, "index": 0}, {"tuple": [10**12, 10**12]}, [10**9, 10**9],
                "index_put", "index_select", "matmul", "__import__", {"dtype": "object"},
                {"slice": [0, 10**12, 0]}]
DEEP = "DEEP-NESTING"  # replaced by 100 000 nested lists in the JSON text


def _paths(node, path=()):
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, path + (i,))


@st.composite
def json_edit(draw, text: bytes):
    """An edited JSON header: one node replaced (by a value of another type, a huge or
    negative number, a reference to a missing member or node, deep nesting), deleted, or
    a list of ints (a shape) enlarged."""
    doc = json.loads(text)
    paths = list(_paths(doc))
    path = draw(st.sampled_from(paths))
    action = draw(st.sampled_from(["replace", "replace", "delete", "enlarge"]))
    if not path:
        action = "replace"
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    last = path[-1] if path else None
    target = parent[last] if path else doc
    if action == "enlarge" and isinstance(target, list) and target and \
            all(isinstance(v, int) and not isinstance(v, bool) for v in target):
        i = draw(st.integers(0, len(target) - 1))
        target[i] = target[i] * draw(st.sampled_from([2, 1000, 10**9])) + 1
        what = f"enlarged {list(path)}"
    elif action == "delete" and path:
        del parent[last]
        what = f"deleted {list(path)}"
    else:
        value = draw(st.sampled_from(HOSTILE_JSON + [DEEP]))
        if path:
            parent[last] = value
        else:
            doc = value
        what = f"set {list(path)} = {str(value)[:40]}"
    out = json.dumps(doc)
    out = out.replace(json.dumps(DEEP), "[" * 100_000 + "]" * 100_000)
    return out.encode(), what


NPY_SHAPES = [(10**12,), (2**62, 4), (-1,), (), (0,), (3, 10**9), (2**31,), (1, 1, 1, 1, 1)]
NPY_DTYPES = ["<f8", "<f4", "|b1", "<i8", ">f4", "|O", "<U4", "|V8", "<c16", "<f2", "|i1"]


def npy_header(shape, descr, fortran=False) -> bytes:
    header = repr({"descr": descr, "fortran_order": fortran, "shape": tuple(shape)})
    header = header.encode("latin1")
    pad = 64 - (10 + len(header) + 1) % 64
    header += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


@st.composite
def npy_edit(draw, content: bytes):
    """A .npy member whose header claims another shape (huge, negative, enlarged) or dtype
    (objects, strings, other widths) over the same data bytes."""
    f = io.BytesIO(content)
    version = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
        np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read(f)
    body = content[f.tell():]
    kind = draw(st.sampled_from(["shape", "enlarge", "dtype", "fortran"]))
    if kind == "shape":
        shape = draw(st.sampled_from(NPY_SHAPES))
    elif kind == "enlarge":
        shape = tuple(s * draw(st.sampled_from([2, 10, 10**6])) + 1 for s in shape) or (2,)
    elif kind == "dtype":
        dtype = draw(st.sampled_from(NPY_DTYPES))
    else:
        fortran = not fortran
    descr = dtype if isinstance(dtype, str) else np.lib.format.dtype_to_descr(dtype)
    return npy_header(shape, descr, fortran) + body, f"npy header {kind}: {shape} {descr}"


def _nested_edit(draw, data: bytes, edit):
    """Apply ``edit`` (a strategy maker over a member's bytes) to one member, looking inside
    .npz members too; the archive is rebuilt, so every CRC is right."""
    items = members(data)
    eligible = [i for i, (name, content, _) in enumerate(items)
                if name.endswith(".npz") or edit(name, content) is not None]
    if not eligible:
        return data, "nothing to edit"
    i = draw(st.sampled_from(eligible))
    name, content, compression = items[i]
    if name.endswith(".npz"):
        new, what = _nested_edit(draw, content, edit)
        items[i] = (name, new, compression)
        return rezip(items), f"{name}/ {what}"
    new, what = draw(edit(name, content))
    items[i] = (name, new, compression)
    return rezip(items), f"{name}: {what}"


def size_lie(data: bytes, which: str, value_index: int) -> tuple:
    """The archive with one size field of one member (central directory or local header)
    set to a lie: 0, one byte off, 2**31 or 4 GiB."""
    buf = bytearray(data)
    central = [i for i in range(len(buf) - 4) if buf[i:i + 4] == b"PK\x01\x02"]
    local = [i for i in range(len(buf) - 4) if buf[i:i + 4] == b"PK\x03\x04"]
    entries = central if which.startswith("central") else local
    if not entries:
        return data, "no entry"
    at = entries[value_index % len(entries)]
    offset = {"central-compressed": 20, "central-size": 24, "central-offset": 42,
              "local-compressed": 18, "local-size": 22}[which]
    old = struct.unpack_from("<I", buf, at + offset)[0]
    lies = [0, old + 1, max(old - 1, 0), 2**31, 2**32 - 1, old * 1000]
    new = min(lies[value_index % len(lies)], 2**32 - 1)  # (np.savez writes zip64 entries)
    struct.pack_into("<I", buf, at + offset, new)
    return bytes(buf), f"{which} of entry {value_index % len(entries)}: {old} -> {new}"


@st.composite
def mutated(draw, fmt: str, data: bytes):
    """(bytes, description, byte_level): a damaged variant of the valid file ``data``."""
    kind = draw(st.sampled_from(["flip", "truncate", "json", "npy", "size", "missing"]))
    if kind == "flip":
        n = draw(st.integers(1, 8))
        buf = bytearray(data)
        spots = draw(st.lists(st.integers(0, len(buf) * 8 - 1), min_size=n, max_size=n))
        for bit in spots:
            buf[bit // 8] ^= 1 << (bit % 8)
        return bytes(buf), f"bits flipped at {spots}", True
    if kind == "truncate":
        cut = draw(st.integers(0, len(data) - 1))
        return data[:cut], f"truncated to {cut} of {len(data)} bytes", True
    if kind == "json":
        new, what = _nested_edit(draw, data, lambda name, content: json_edit(content)
                                 if name.endswith(".json") else None)
        return new, what, False
    if kind == "npy":
        new, what = _nested_edit(draw, data, lambda name, content: npy_edit(content)
                                 if name.endswith(".npy") else None)
        return new, what, False
    if kind == "size":
        which = draw(st.sampled_from(["central-compressed", "central-size", "central-offset",
                                      "local-compressed", "local-size"]))
        new, what = size_lie(data, which, draw(st.integers(0, 50)))
        return new, what, False
    return None, "the file does not exist", False


# ---- judging ------------------------------------------------------------------------------

def check_file(worker, fmt: str, data, what: str, byte_level: bool, original) -> None:
    case = file_case(fmt, data, what)

    def text(why):
        return (f"{why}\n--- case: format {fmt}, {what} ---\n"
                f"data = {data!r:.3000}\n(write data to a file named like {fmt!r} expects and "
                f"load it; tests/fuzz/files_worker.py shows the calls)")
    try:
        kind, got, info = worker.run(case)
    except Crash as e:
        raise CrashFinding(text(str(e))) from None
    if info["grew_mib"] > BOMB_MIB:
        worker.kill()  # the peak only grows: a fresh worker measures the next case
        raise BadExceptionFinding(text(f"loading made the worker's memory grow by "
                                       f"{info['grew_mib']:.0f} MiB"))
    if kind == "value":
        if data is None:
            raise AcceptedFinding(text("a file that does not exist was loaded"))
        if byte_level:
            why = same_value(got, original)
            if why:
                raise WrongValueFinding(text(f"a damaged file loaded as other values: {why}"))
        return
    why = bad_exception(got)
    if why:
        raise BadExceptionFinding(text(f"{why}:\n{harness._error_text(got)}"))
    if got["stage"] == "use":
        if fmt == "jit":  # jit.load validates the whole graph before anything runs
            raise RejectedFinding(text("jit.load accepted the file, then running it raised:\n"
                                       + harness._error_text(got)))
        return  # a changed Keras config can be a valid model of another input shape
    expected = "FileNotFoundError" if data is None else "ValueError"
    if expected not in got["mro"]:
        raise WrongErrorFinding(text(f"loading raised {got['type']}, expected {expected}:\n"
                                     + harness._error_text(got)))
    if "fuzzed" not in got["message"]:
        raise WrongErrorFinding(text("the error does not name the file:\n"
                                     + harness._error_text(got)))


def run_file(worker, originals, fmt, data_strategy):
    data, original = originals[fmt]
    new, what, byte_level = data_strategy.draw(mutated(fmt, data))
    case = file_case(fmt, new, what)
    try:
        check_file(worker, fmt, new, what, byte_level, original)
    except harness.Finding as e:
        if not harness.SURVEY:
            raise
        harness._record(type(e).__name__, str(e).split("\n--- case")[0], case,
                        f"# {fmt}: {what}\ndata = {new!r:.2000}")
    else:
        if harness.SURVEY:
            harness._record("ok", "", case)


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(data=st.data())
def test_a_damaged_file_is_refused_with_a_value_error_or_loads_unchanged(worker, originals,
                                                                         fmt, data):
    run_file(worker, originals, fmt, data)


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_valid_files_load_back(worker, originals, fmt):
    kind, value, _ = worker.run(file_case(fmt, originals[fmt][0], "original"))
    assert kind == "value" and same_value(value, originals[fmt][1]) is None
