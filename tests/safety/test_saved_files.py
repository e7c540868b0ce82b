"""Saved files from anywhere: nb.load, keras.models.load_model, load_weights and the MNIST
reader check every size a file declares against the bytes really there before allocating,
so a 0.5 MB archive that inflates to 512 MiB, a 1 KB .npy header claiming 10^12 floats or a
3 KB .keras declaring Dense(10**9) fail at once, with a ValueError naming the file; every
node of a header is checked (kind, nesting, dtype, device, member); and every writer
replaces its target only once the new file is complete, so a failure in the middle (an
exception, a full disk, a kill -9) leaves the previous file byte for byte."""
from __future__ import annotations

import errno
import gzip
import io
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import numpy.lib.format as npformat
import pytest

import numbanet as nb
from numbanet import fileio, keras
from numbanet.keras import layers, saving
from numbanet.keras.callbacks import ModelCheckpoint

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MiB = 1 << 20


# ---- crafted files ---------------------------------------------------------------------------

def npy_header(shape, descr="<f4") -> bytes:
    buf = io.BytesIO()
    npformat.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                          "shape": tuple(shape)})
    return buf.getvalue()


def npy_bytes(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def write_zip(path_or_file, members: dict, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path_or_file, "w", compression) as z:
        for name, blob in members.items():
            z.writestr(name, blob)


def add_zero_bomb(z: zipfile.ZipFile, name: str, nbytes: int) -> None:
    """A deflated ``.npy`` member of ``nbytes`` zeros (float32), a consistent header and all:
    it compresses about 1000:1, so only its inflated size gives it away."""
    with z.open(deflated_info(name), "w", force_zip64=True) as f:
        f.write(npy_header((nbytes // 4,)))
        chunk = bytes(MiB)
        for _ in range(nbytes // MiB):
            f.write(chunk)


def deflated_info(name):
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def nbz_header(root) -> str:
    return json.dumps({"format": "numbanet", "version": 1, "root": root})


def tensor_node(member="tensors/0.npy", dtype="float32", device="cpu", **extra):
    return {"tensor": member, "dtype": dtype, "device": device, "requires_grad": False,
            **extra}


def small_model():
    return keras.Sequential([keras.Input((4,)), layers.Dense(3, name="hidden"),
                             layers.Dense(2, name="out")])


def rewrite_member(path, member, transform):
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members[member] = transform(members[member])
    write_zip(path, members)


def edit_config(path, edit):
    def transform(blob):
        config = json.loads(blob)
        edit(config["config"])
        return json.dumps(config).encode()
    rewrite_member(path, "config.json", transform)


def run_small(code: str, env=None) -> dict:
    """Run ``code`` in a fresh interpreter limited to 2 GiB of address space (so that a
    regression that allocates fails instead of swapping), and return what it reports:
    the exception it raised (type, whether a ValueError, message) and its time."""
    prelude = textwrap.dedent("""
        import json, resource, sys, time
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        import numbanet as nb
        from numbanet import keras
        from numbanet.datasets import read_idx
        start = time.perf_counter()
        report = {"raised": None}
        try:
    """)
    body = textwrap.indent(textwrap.dedent(code), "    ")
    epilogue = textwrap.dedent("""
        except BaseException as e:
            report = {"raised": type(e).__name__, "value_error": isinstance(e, ValueError),
                      "message": str(e)}
        report["seconds"] = time.perf_counter() - start
        print("REPORT " + json.dumps(report))
    """)
    proc = subprocess.run([sys.executable, "-c", prelude + body + epilogue], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, f"the loader crashed (rc {proc.returncode}):\n{proc.stderr}"
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT ")][-1]
    return json.loads(line[len("REPORT "):])


def refused_fast(report: dict, path) -> str:
    assert report["raised"] is not None, "the crafted file was loaded"
    assert report["value_error"], f"{report['raised']}: {report['message']}"
    assert str(path) in report["message"], report["message"]
    assert report["seconds"] < 20, f"it took {report['seconds']:.1f} s to refuse the file"
    return report["message"]


# ---- memory bombs: inflation ---------------------------------------------------------------

def test_nb_load_refuses_a_half_megabyte_member_that_inflates_to_512_mib(tmp_path):
    path = tmp_path / "bomb.nbz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("numbanet.json", nbz_header(tensor_node()))
        add_zero_bomb(z, "tensors/0.npy", 512 * MiB)
    assert path.stat().st_size < 1 * MiB
    message = refused_fast(run_small(f"nb.load({str(path)!r})"), path)
    assert "tensors/0.npy" in message and "compression bomb" in message


def test_load_weights_refuses_a_member_that_inflates_a_thousandfold(tmp_path):
    path = tmp_path / "bomb.weights.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        add_zero_bomb(z, "layers/0/kernel.npy", 256 * MiB)
    message = refused_fast(run_small(f"""
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        model.load_weights({str(path)!r})
    """), path)
    assert "layers/0/kernel.npy" in message and "compression bomb" in message


def test_load_model_refuses_a_weights_archive_that_inflates_a_thousandfold(tmp_path):
    path = tmp_path / "bomb.keras"
    small_model().save(path)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist() if n != "model.weights.npz"}
    with zipfile.ZipFile(path, "w") as z:
        for name, blob in members.items():
            z.writestr(name, blob)
        with z.open(deflated_info("model.weights.npz"), "w", force_zip64=True) as f:
            for _ in range(256):
                f.write(bytes(MiB))
    message = refused_fast(run_small(f"keras.models.load_model({str(path)!r})"), path)
    assert "model.weights.npz" in message and "compression bomb" in message


def test_read_idx_refuses_a_gzip_file_that_inflates_a_thousandfold(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    count = 256 * MiB // (28 * 28)
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">IIII", 0x00000803, count, 28, 28))
        for _ in range(count * 28 * 28 // MiB):
            f.write(bytes(MiB))
        f.write(bytes(count * 28 * 28 % MiB))
    assert path.stat().st_size < MiB
    message = refused_fast(run_small(f"read_idx({str(path)!r})"), path)
    assert "compression bomb" in message


# ---- memory bombs: array headers that claim more than the bytes there ------------------------

def trillion_floats() -> bytes:
    return npy_header((10 ** 12,)) + bytes(64)


def test_nb_load_refuses_an_npy_header_claiming_10_to_the_12_floats(tmp_path):
    path = tmp_path / "claims.nbz"
    write_zip(path, {"numbanet.json": nbz_header(tensor_node()),
                     "tensors/0.npy": trillion_floats()})
    assert path.stat().st_size < 2048
    message = refused_fast(run_small(f"nb.load({str(path)!r})"), path)
    assert "(1000000000000,)" in message


def test_load_model_refuses_an_npy_header_claiming_10_to_the_12_floats(tmp_path):
    path = tmp_path / "claims.keras"
    small_model().save(path)
    npz = io.BytesIO()
    write_zip(npz, {"layers/0/kernel.npy": trillion_floats(),
                    "layers/0/bias.npy": npy_bytes(np.zeros(3, np.float32))})
    rewrite_member(path, "model.weights.npz", lambda blob: npz.getvalue())
    message = refused_fast(run_small(f"keras.models.load_model({str(path)!r})"), path)
    assert "layers/0/kernel" in message


def test_load_weights_refuses_an_npy_header_claiming_10_to_the_12_floats(tmp_path):
    path = tmp_path / "claims.weights.npz"
    write_zip(path, {"layers/0/kernel.npy": trillion_floats()})
    refused_fast(run_small(f"""
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        model.load_weights({str(path)!r})
    """), path)


# ---- memory bombs: a .keras config that declares more than its weights -------------------------

@pytest.mark.parametrize("edit,layer", [
    (lambda c: c["layers"][1]["config"].update(units=10 ** 9), "hidden"),
    (lambda c: (c["layers"][0]["config"].update(batch_shape=[None, 200, 200, 3]),
                c["layers"].__setitem__(1, {"class_name": "Conv2D", "config": {
                    "name": "conv", "filters": 10 ** 6, "kernel_size": [100, 100]}})), "conv"),
    (lambda c: (c["layers"][0]["config"].update(batch_shape=[None, 10 ** 6, 10 ** 6]),
                c["layers"].insert(1, {"class_name": "Flatten", "config": {"name": "flat"}})),
     "hidden"),
], ids=["Dense(10**9)", "Conv2D(10**6 filters)", "a huge input shape"])
def test_load_model_refuses_a_config_larger_than_its_weights_before_building(tmp_path, edit,
                                                                            layer):
    path = tmp_path / "declares.keras"
    small_model().save(path)
    edit_config(path, edit)
    assert path.stat().st_size < 4096
    message = refused_fast(run_small(f"keras.models.load_model({str(path)!r})"), path)
    assert repr(layer) in message and "nothing was built" in message


@pytest.mark.parametrize("key,value", [
    ("units", -1), ("units", 0), ("units", True), ("units", 2.5), ("units", "3"),
    ("units", 10 ** 30), ("units", [3]),
])
def test_load_model_refuses_a_bad_dense_size_naming_the_file_and_layer(tmp_path, key, value):
    path = tmp_path / "bad.keras"
    small_model().save(path)
    edit_config(path, lambda c: c["layers"][1]["config"].update({key: value}))
    with pytest.raises(ValueError) as err:
        keras.models.load_model(path)
    assert str(path) in str(err.value) and "'hidden'" in str(err.value)


@pytest.mark.parametrize("batch_shape", [
    [None, 2.5], [None, True], [None, -3], [None, 0], [None, 10 ** 20], [None, "4"], "abc", 4,
    [None, [4]],
])
def test_load_model_refuses_a_bad_input_shape_naming_the_file(tmp_path, batch_shape):
    path = tmp_path / "bad_input.keras"
    small_model().save(path)
    edit_config(path, lambda c: c["layers"][0]["config"].update(batch_shape=batch_shape))
    with pytest.raises(ValueError) as err:
        keras.models.load_model(path)
    assert str(path) in str(err.value) and "batch_shape" in str(err.value)


@pytest.mark.parametrize("key,value", [("shape", [2.5]), ("shape", [10 ** 12]),
                                       ("batch_size", -2), ("batch_size", 1.5)])
def test_load_model_refuses_a_bad_input_shape_given_as_shape_and_batch_size(tmp_path, key,
                                                                            value):
    path = tmp_path / "bad_input.keras"
    small_model().save(path)

    def edit(config):
        entry = config["layers"][0]["config"]
        entry.update({"shape": [4], "batch_size": None, key: value})
        del entry["batch_shape"]
    edit_config(path, edit)
    with pytest.raises(ValueError) as err:
        keras.models.load_model(path)
    assert str(path) in str(err.value) and f"{key}={value!r}" in str(err.value)


def test_load_model_refuses_a_config_of_more_layers_than_a_model_can_sanely_have(tmp_path):
    path = tmp_path / "long.keras"
    small_model().save(path)
    extra = [{"class_name": "Dropout", "config": {"rate": 0.1, "name": f"d{i}"}}
             for i in range(saving.MAX_LAYERS)]
    edit_config(path, lambda c: c["layers"].extend(extra))
    with pytest.raises(ValueError, match="layers") as err:
        keras.models.load_model(path)
    assert str(path) in str(err.value)


def image_model():
    return keras.Sequential([keras.Input((6, 6, 2)),
                             layers.Conv2D(4, 3, name="conv"),
                             layers.BatchNormalization(name="norm"),
                             layers.MaxPooling2D(name="pool"), layers.Flatten(name="flat"),
                             layers.Dropout(0.5, name="drop"), layers.Dense(2, name="out")])


@pytest.mark.parametrize("index,key,value", [
    (1, "kernel_size", [3, -1]), (1, "kernel_size", 3.0), (1, "strides", 0),
    (1, "filters", False), (1, "groups", 10 ** 12), (1, "dilation_rate", [1, "2"]),
    (2, "epsilon", float("nan")), (2, "momentum", float("inf")), (2, "axis", 2.5),
    (3, "pool_size", [2, 0]), (3, "strides", [True, 1]),
    (5, "rate", 5), (5, "rate", "half"), (5, "rate", float("nan")),
])
def test_load_model_refuses_bad_numbers_in_any_layer_naming_the_file_and_layer(tmp_path, index,
                                                                              key, value):
    path = tmp_path / "bad_numbers.keras"
    model = image_model()
    model.save(path)
    name = model.layers[index - 1].name
    edit_config(path, lambda c: c["layers"][index]["config"].update({key: value}))
    with pytest.raises(ValueError) as err:
        keras.models.load_model(path)
    message = str(err.value)
    assert str(path) in message and repr(name) in message, message


def test_an_image_model_still_round_trips(tmp_path):
    model = image_model()
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    x = np.random.default_rng(0).standard_normal((3, 6, 6, 2)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x).detach().numpy(), model(x).detach().numpy())


SCHEMA_CASES = {
    "Dense": (lambda: layers.Dense(5), (None, 3)),
    "Dense-3d-no-bias": (lambda: layers.Dense(2, use_bias=False), (None, 4, 7)),
    "Conv2D": (lambda: layers.Conv2D(4, 3), (None, 6, 6, 2)),
    "Conv2D-groups-channels-first": (lambda: layers.Conv2D(
        6, (2, 3), groups=3, use_bias=False, data_format="channels_first"), (None, 3, 5, 5)),
    "BatchNormalization": (lambda: layers.BatchNormalization(), (None, 5)),
    "BatchNormalization-axis-1": (lambda: layers.BatchNormalization(axis=1, center=False),
                                  (None, 3, 4, 4)),
    "BatchNormalization-no-scale": (lambda: layers.BatchNormalization(scale=False),
                                    (None, 4, 4, 2)),
    "Activation": (lambda: layers.Activation("relu"), (None, 3)),
    "Dropout": (lambda: layers.Dropout(0.5), (None, 3)),
    "Flatten": (lambda: layers.Flatten(), (None, 2, 3)),
    "MaxPooling2D": (lambda: layers.MaxPooling2D(), (None, 4, 4, 1)),
    "AveragePooling2D": (lambda: layers.AveragePooling2D(), (None, 4, 4, 1)),
}


@pytest.mark.parametrize("make,shape", SCHEMA_CASES.values(), ids=SCHEMA_CASES.keys())
def test_the_weight_schema_predicts_exactly_what_each_layer_builds(make, shape):
    layer = make()
    predicted = saving.WEIGHT_SHAPES[type(layer).__name__](layer, shape)
    layer.build_for(shape)
    assert predicted == {key: tuple(w.shape) for key, w in layer.state_dict().items()}


def test_every_layer_class_has_a_weight_schema_and_a_case_above():
    classes = {name for name in layers.__all__ if name not in ("Input", "InputLayer", "Layer")}
    assert classes <= set(saving.WEIGHT_SHAPES), classes - set(saving.WEIGHT_SHAPES)
    assert classes <= {name.split("-")[0] for name in SCHEMA_CASES}


@pytest.mark.parametrize("weights", [
    {"layers/0/kernel.npy": npy_bytes(np.array([["a"] * 3] * 4)),
     "layers/0/bias.npy": npy_bytes(np.zeros(3, np.float32))},
    {"layers/0/kernel.npy": npy_bytes(np.zeros((4, 3), np.complex64)),
     "layers/0/bias.npy": npy_bytes(np.zeros(3, np.float32))},
    {"layers/0/kernel.npy": npy_bytes(np.zeros((4, 3), np.float32)),
     "layers/0/bias.npy": npy_bytes(np.zeros(3, np.float32)), "README.txt": b"hello"},
], ids=["strings", "complex", "a member that is not an array"])
def test_load_weights_refuses_arrays_that_are_not_real_numbers(tmp_path, weights):
    path = tmp_path / "odd.weights.npz"
    write_zip(path, weights)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3)])
    with pytest.raises(ValueError) as err:
        model.load_weights(path)
    assert str(path) in str(err.value)


# ---- nb.load checks every node of the header ------------------------------------------------

def nested(depth):
    node = None
    for _ in range(depth):
        node = {"list": [node]}
    return node


BAD_ROOTS = {
    "a list nested 100000 deep": "[" * 100000,
    "containers nested past the limit": nested(150),
    "a list key": {"dict": [[[1], tensor_node()]]},
    "a dict entry that is not a pair": {"dict": [["a"]]},
    "a list that is a number": {"list": 5},
    "two kinds at once": {"list": [], "tuple": []},
    "an unknown device": tensor_node(device="tpu"),
    "a device that is a number": tensor_node(device=5),
    "requires_grad that is a string": tensor_node(requires_grad="yes"),
    "a dtype that is a list": tensor_node(dtype=["float32"]),
    "a dtype numbanet has not": tensor_node(dtype="complex64"),
    "a member name that is a number": tensor_node(member=5),
    "a missing member": tensor_node(member="tensors/9.npy"),
    "an extra field": tensor_node(extra=1),
    "one member named twice": {"list": [tensor_node(), tensor_node()]},
}


@pytest.mark.parametrize("root", BAD_ROOTS.values(), ids=BAD_ROOTS.keys())
def test_nb_load_refuses_a_crafted_header_node_naming_the_file(tmp_path, root):
    path = tmp_path / "crafted.nbz"
    header = '{"format": "numbanet", "version": 1, "root": ' + root + "}" \
        if isinstance(root, str) else nbz_header(root)
    write_zip(path, {"numbanet.json": header,
                     "tensors/0.npy": npy_bytes(np.zeros(3, np.float32))})
    with pytest.raises(ValueError) as err:
        nb.load(path)
    assert str(path) in str(err.value)


def test_nb_load_refuses_a_header_without_a_root(tmp_path):
    path = tmp_path / "rootless.nbz"
    write_zip(path, {"numbanet.json": json.dumps({"format": "numbanet", "version": 1})})
    with pytest.raises(ValueError, match="not a numbanet file"):
        nb.load(path)


def test_containers_nested_to_the_limit_round_trip_and_deeper_ones_are_refused(tmp_path):
    deep = [nb.ones(1)]
    for _ in range(nb.serialization.MAX_DEPTH - 1):
        deep = [deep]
    nb.save(deep, tmp_path / "deep.nbz")
    back = nb.load(tmp_path / "deep.nbz")
    for _ in range(nb.serialization.MAX_DEPTH):
        back = back[0]
    assert back.tolist() == [1.0]
    with pytest.raises(ValueError, match="nest more than"):
        nb.save([deep], tmp_path / "deeper.nbz")
    looped = []
    looped.append(looped)
    with pytest.raises(ValueError, match="nest more than"):
        nb.save({"a": looped}, tmp_path / "looped.nbz")
    assert sorted(os.listdir(tmp_path)) == ["deep.nbz"]


def test_map_location_to_a_missing_cuda_device_names_the_file(tmp_path):
    path = tmp_path / "w.nbz"
    nb.save({"w": nb.ones(2)}, path)
    with pytest.raises(RuntimeError) as err:
        nb.load(path, map_location="cuda:7")
    assert str(path) in str(err.value) and "map_location" in str(err.value)


def test_a_gpu_checkpoint_on_a_machine_without_cuda_says_to_use_map_location(tmp_path):
    path = tmp_path / "gpu.nbz"
    write_zip(path, {"numbanet.json": nbz_header(tensor_node(device="cuda:0")),
                     "tensors/0.npy": npy_bytes(np.zeros(3, np.float32))})
    report = run_small(f"""
        if nb.cuda.is_available():
            raise SystemExit("CUDA is available here")
        nb.load({str(path)!r})
    """, env={"NUMBA_ENABLE_CUDASIM": "0"})
    if report["raised"] == "SystemExit":
        pytest.skip(report["message"])
    assert report["raised"] == "RuntimeError", report
    assert str(path) in report["message"] and "map_location='cpu'" in report["message"]


# ---- damaged archives chain the zip or zlib error -------------------------------------------

def truncated(path):
    path.write_bytes(path.read_bytes()[:100])


def test_a_damaged_archive_names_the_file_and_chains_the_zip_error(tmp_path):
    cases = []
    nb.save({"w": nb.ones(3)}, tmp_path / "t.nbz")
    cases.append((tmp_path / "t.nbz", nb.load))
    small_model().save(tmp_path / "m.keras")
    cases.append((tmp_path / "m.keras", keras.models.load_model))
    small_model().save_weights(tmp_path / "m.weights.npz")
    cases.append((tmp_path / "m.weights.npz", small_model().load_weights))
    for path, load in cases:
        truncated(path)
        with pytest.raises(ValueError) as err:
            load(path)
        assert str(path) in str(err.value)
        assert isinstance(err.value.__cause__, (zipfile.BadZipFile, OSError, EOFError)), \
            f"{load.__name__}: the cause is {err.value.__cause__!r}"


def test_a_corrupted_member_names_the_file_and_chains_the_crc_error(tmp_path):
    path = tmp_path / "t.nbz"
    nb.save({"w": nb.arange(100.0)}, path)
    blob = bytearray(path.read_bytes())
    at = blob.index(b"\x93NUMPY") + 200
    blob[at] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError) as err:
        nb.load(path)
    assert str(path) in str(err.value) and err.value.__cause__ is not None


# ---- writers: a failure in the middle leaves the previous file byte for byte ----------------

def save_tensor(path):
    nb.save({"w": nb.arange(50000.0), "b": nb.ones(5)}, path)


def save_model(path):
    small_model().save(path)


def save_weights(path):
    small_model().save_weights(path)


def checkpoint(weights_only):
    def save(path):
        callback = ModelCheckpoint(str(path), save_weights_only=weights_only)
        callback.set_model(small_model())
        callback.on_epoch_end(0, {"val_loss": 1.0})
    save.__name__ = f"ModelCheckpoint(save_weights_only={weights_only})"
    return save


WRITERS = [(save_tensor, "t.nbz"), (save_model, "m.keras"), (save_weights, "m.weights.npz"),
           (checkpoint(False), "c.keras"), (checkpoint(True), "c.weights.npz")]
WRITER_IDS = ["nb.save", "Model.save", "Model.save_weights", "ModelCheckpoint",
              "ModelCheckpoint-weights"]


class FailingFile:
    """A file that takes ``room`` bytes, then raises ``error`` (a full disk, a Ctrl-C)."""

    def __init__(self, f, room, error):
        self._f, self._room, self._error = f, room, error

    def write(self, data):
        if len(data) > self._room:
            self._f.write(bytes(data)[:self._room])
            self._room = 0
            raise self._error
        self._room -= len(data)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


def fail_writes(error):
    def failure(monkeypatch, room):
        real = os.fdopen
        monkeypatch.setattr(os, "fdopen",
                            lambda fd, *a, **k: FailingFile(real(fd, *a, **k), room, error))
    return failure


def fail_the_fsync(monkeypatch, room):
    def fsync(fd):
        raise OSError(errno.EIO, "Input/output error")
    monkeypatch.setattr(os, "fsync", fsync)


FAILURES = {"the disk fills up": fail_writes(OSError(errno.ENOSPC, "No space left on device")),
            "Ctrl-C": fail_writes(KeyboardInterrupt()),
            "fsync fails": fail_the_fsync}


@pytest.mark.parametrize("failure", FAILURES.values(), ids=FAILURES.keys())
@pytest.mark.parametrize("write,name", WRITERS, ids=WRITER_IDS)
def test_a_save_that_fails_midway_leaves_the_old_file_byte_identical(tmp_path, monkeypatch,
                                                                     write, name, failure):
    path = tmp_path / name
    path.write_bytes(b"the previous file")
    write(tmp_path / ("new-" + name))
    size = (tmp_path / ("new-" + name)).stat().st_size
    os.unlink(tmp_path / ("new-" + name))
    with monkeypatch.context() as m:
        failure(m, size // 2)
        with pytest.raises((OSError, KeyboardInterrupt)):
            write(path)
    assert path.read_bytes() == b"the previous file"
    assert os.listdir(tmp_path) == [name], "a temporary file was left behind"


@pytest.mark.parametrize("write,name", WRITERS[:3], ids=WRITER_IDS[:3])
def test_saving_into_a_missing_folder_names_the_target(tmp_path, write, name):
    target = tmp_path / "no" / "such" / name
    with pytest.raises(FileNotFoundError) as err:
        write(target)
    assert str(target) in str(err.value) and ".tmp" not in str(err.value)


KILLED_SAVES = {
    "nb.save": ("old.nbz", "nb.save({'w': nb.arange(10.0 ** 6), 'b': nb.ones(3)}, PATH)",
                lambda path: nb.load(path)["w"].shape == (10 ** 6,)),
    "Model.save": ("old.keras", "keras.Sequential([keras.Input((300,)), "
                   "keras.layers.Dense(1000)]).save(PATH)",
                   lambda path: keras.models.load_model(path).layers[0].units == 1000),
}


@pytest.mark.parametrize("name,save,loads", KILLED_SAVES.values(), ids=KILLED_SAVES.keys())
def test_a_kill_9_in_the_middle_of_a_save_leaves_the_old_file_intact(tmp_path, name, save,
                                                                    loads):
    path = tmp_path / name
    PATH = str(path)  # noqa: F841 (the name the save expressions use)
    eval(save)
    old = path.read_bytes()
    code = textwrap.dedent(f"""
        import os, signal, zipfile
        import numbanet as nb
        from numbanet import keras
        PATH = {str(path)!r}
        real = zipfile.ZipFile.writestr
        def writestr(self, name, data, *args, **kwargs):
            real(self, name, data, *args, **kwargs)
            if len(data) > 100000:  # the big member is in the file: die before the rename
                os.kill(os.getpid(), signal.SIGKILL)
        zipfile.ZipFile.writestr = writestr
        {save}
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert path.read_bytes() == old
    assert loads(path)


def test_nb_load_refuses_an_archive_whose_members_together_inflate_a_thousandfold(tmp_path):
    """Each member stays under the size any single member may reach, but together they
    declare far more than the archive can hold at a sane ratio."""
    path = tmp_path / "many.nbz"
    count = 12
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("numbanet.json", nbz_header(
            {"list": [tensor_node(f"tensors/{i}.npy") for i in range(count)]}))
        for i in range(count):
            add_zero_bomb(z, f"tensors/{i}.npy", 48 * MiB)
    assert path.stat().st_size < MiB
    message = refused_fast(run_small(f"nb.load({str(path)!r})"), path)
    assert "compression bomb" in message


def test_an_npy_header_with_more_dimensions_than_numpy_allows_names_the_file(tmp_path):
    path = tmp_path / "dims.nbz"
    write_zip(path, {"numbanet.json": nbz_header(tensor_node()),
                     "tensors/0.npy": npy_header((1,) * 70) + bytes(4)})
    with pytest.raises(ValueError) as err:
        nb.load(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("write,name", WRITERS[:3], ids=WRITER_IDS[:3])
def test_saving_over_a_file_keeps_its_permissions(tmp_path, write, name):
    """As open(path, 'wb') does: a private checkpoint (0600) stays private."""
    path = tmp_path / name
    write(path)
    os.chmod(path, 0o600)
    write(path)
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_nb_load_refuses_a_header_that_inflates_a_thousandfold_into_millions_of_nodes(tmp_path):
    """A JSON header becomes Python objects many times its size: a deflated header of four
    million empty lists (52 MB from 60 KB) is refused before it is parsed."""
    path = tmp_path / "nodes.nbz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open(deflated_info("numbanet.json"), "w") as f:
            f.write(b'{"format": "numbanet", "version": 1, "root": {"list": [')
            f.write(b'{"list": []}, ' * (4 << 20))
            f.write(b'{"list": []}]}}')
    assert path.stat().st_size < MiB
    message = refused_fast(run_small(f"nb.load({str(path)!r})"), path)
    assert "numbanet.json" in message and "compression bomb" in message


def test_a_folder_that_refuses_the_temporary_file_names_the_target(tmp_path, monkeypatch):
    """The temporary file is numbanet's business: an error creating it names the file the
    user asked for, and keeps its errno (so its type: PermissionError here)."""
    target = tmp_path / "m.nbz"

    def refuse(prefix="", suffix="", dir=None):
        raise PermissionError(errno.EACCES, "Permission denied",
                              os.path.join(dir, prefix + "abc" + suffix))
    monkeypatch.setattr(fileio.tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError) as err:
        nb.save(nb.ones(2), target)
    assert str(target) in str(err.value) and ".numbanet-" not in str(err.value)


@pytest.mark.parametrize("write,name", WRITERS[:3], ids=WRITER_IDS[:3])
def test_a_full_disk_is_an_os_error_naming_the_target(tmp_path, monkeypatch, write, name):
    target = tmp_path / name
    fail_writes(OSError(errno.ENOSPC, "No space left on device"))(monkeypatch, 100)
    with pytest.raises(OSError) as err:
        write(target)
    assert err.value.errno == errno.ENOSPC
    assert str(target) in str(err.value) and "No space left" in str(err.value)
