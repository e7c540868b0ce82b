"""nb.save / nb.load: tensors of every dtype and nested containers round-trip; the file is a
ZIP of JSON and .npy entries that never unpickles; writes are atomic; damaged, foreign and
missing files give a clear error that names the file."""
from __future__ import annotations

import io
import json
import os
import pathlib
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import laid_out, shapes, values

import numbanet as nb

F32, F64, I64, BOOL = nb.float32, nb.float64, nb.int64, nb.bool
ALL = (F32, F64, I64, BOOL)

# the function a malicious pickle inside a file would call on load
PWNED = []


def _pwn(*args):
    PWNED.append(args)
    return 0


class _Payload:
    def __reduce__(self):
        return (_pwn, ("loaded a pickle",))


def _id(x):
    return getattr(x, "name", str(x))


def same_tensor(a, b):
    assert isinstance(b, nb.Tensor)
    assert a.shape == b.shape and a.dtype == b.dtype and a.device == b.device
    assert a.requires_grad == b.requires_grad
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def _assert_plain(err):
    assert type(err.value).__module__.split(".")[0] != "numba"  # no Numba error reaches users
    return str(err.value)


# ---- round trips ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ALL, ids=_id)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_tensors_of_every_dtype_and_layout_round_trip(tmp_path, dtype, data):
    array = data.draw(shapes(min_dims=0, max_dims=4, min_side=0).flatmap(values))
    if dtype is I64:
        array = np.rint(array * 1e6)
    elif dtype is BOOL:
        array = array > 0
    if array.ndim == 0:
        ref, t = array, nb.full((), array.item(), dtype=dtype)
    else:
        ref, t = data.draw(laid_out(array, dtype=dtype))
    path = tmp_path / "t.nb"
    nb.save(t, path)
    back = nb.load(path)
    same_tensor(t, back)
    np.testing.assert_array_equal(back.numpy(), np.asarray(ref).astype(dtype.numpy))


def test_float_values_round_trip_bit_for_bit(tmp_path):
    for dtype in (F32, F64):
        info = np.finfo(dtype.numpy)
        x = np.array([np.nan, np.inf, -np.inf, -0.0, info.smallest_subnormal, info.max, 1 / 3],
                     dtype.numpy)
        t = nb.tensor(x, dtype=dtype)
        nb.save(t, tmp_path / "x.nb")
        back = nb.load(tmp_path / "x.nb").numpy()
        assert back.tobytes() == t.numpy().tobytes()


def test_requires_grad_is_kept(tmp_path):
    w = nb.randn(3, 2, requires_grad=True)
    b = nb.zeros(2)
    nb.save({"w": w, "b": b}, tmp_path / "m.nb")
    back = nb.load(tmp_path / "m.nb")
    assert back["w"].requires_grad and back["w"].is_leaf and back["w"].grad is None
    assert not back["b"].requires_grad
    same_tensor(w, back["w"])
    (back["w"] * 2).sum().backward()
    np.testing.assert_array_equal(back["w"].grad.numpy(), np.full((3, 2), 2.0, np.float32))


def test_saving_a_non_leaf_tensor_stores_its_values(tmp_path):
    x = nb.ones(3, requires_grad=True)
    y = x * 3
    nb.save(y, tmp_path / "y.nb")
    back = nb.load(tmp_path / "y.nb")
    np.testing.assert_array_equal(back.detach().numpy(), [3, 3, 3])
    assert back.grad_fn is None


def test_nested_containers_round_trip_with_their_types(tmp_path):
    obj = {
        "tensor": nb.arange(6).reshape(2, 3),
        "list": [nb.ones(2), 1, 2.5, "text", None, True],
        "tuple": (nb.zeros(1, dtype=F64), (nb.tensor([True]), []), ()),
        "nested": {"deeper": {"x": nb.tensor([[1.5]]), "empty": {}}},
        3: "int key",
        2.5: "float key",
        None: "none key",
        False: "bool key",
        "unicode ключ": "значение",
    }
    nb.save(obj, tmp_path / "obj.nb")
    back = nb.load(tmp_path / "obj.nb")
    assert list(back) == list(obj)
    assert type(back["list"]) is list and type(back["tuple"]) is tuple
    assert type(back["tuple"][1]) is tuple and back["tuple"][1][1] == []
    assert back["tuple"][2] == ()
    assert back["list"][1:] == [1, 2.5, "text", None, True]
    assert type(back["list"][1]) is int and type(back["list"][5]) is bool
    assert back[3] == "int key" and back[2.5] == "float key" and back[None] == "none key"
    assert back[False] == "bool key" and back["unicode ключ"] == "значение"
    assert back["nested"]["deeper"]["empty"] == {}
    same_tensor(obj["tensor"], back["tensor"])
    same_tensor(obj["list"][0], back["list"][0])
    same_tensor(obj["tuple"][0], back["tuple"][0])
    same_tensor(obj["tuple"][1][0], back["tuple"][1][0])
    same_tensor(obj["nested"]["deeper"]["x"], back["nested"]["deeper"]["x"])


def test_a_state_dict_round_trips_in_order(tmp_path):
    state = {f"layer{i}.{p}": nb.randn(3, i + 1) for i in range(4) for p in ("weight", "bias")}
    nb.save(state, tmp_path / "state.nb")
    back = nb.load(tmp_path / "state.nb")
    assert list(back) == list(state)
    for k in state:
        same_tensor(state[k], back[k])


def test_the_same_tensor_saved_twice_loads_as_equal_values(tmp_path):
    t = nb.arange(3)
    nb.save([t, t, t[1:]], tmp_path / "shared.nb")
    a, b, c = nb.load(tmp_path / "shared.nb")
    same_tensor(t, a)
    same_tensor(t, b)
    same_tensor(t[1:], c)


def test_loaded_tensors_are_ordinary_writable_tensors(tmp_path):
    nb.save(nb.zeros(2, 3), tmp_path / "z.nb")
    t = nb.load(tmp_path / "z.nb")
    t += 1
    t[0] = 5
    np.testing.assert_array_equal(t.numpy(), [[5, 5, 5], [1, 1, 1]])


def test_numpy_scalars_are_stored_as_numbers(tmp_path):
    nb.save({"lr": np.float64(0.1), "step": np.int64(3), "flag": np.bool_(True)},
            tmp_path / "s.nb")
    back = nb.load(tmp_path / "s.nb")
    assert back == {"lr": 0.1, "step": 3, "flag": True}


@pytest.mark.parametrize("location", ["cpu", nb.device("cpu"), {"cpu": "cpu"},
                                      lambda saved: "cpu", None],
                         ids=["str", "device", "dict", "callable", "None"])
def test_map_location_cpu_loads_onto_the_cpu(tmp_path, location):
    obj = {"w": nb.randn(2, 2, requires_grad=True), "n": [nb.arange(3)]}
    nb.save(obj, tmp_path / "m.nb")
    back = nb.load(tmp_path / "m.nb", map_location=location)
    assert back["w"].device == nb.device("cpu") and back["n"][0].device == nb.device("cpu")
    same_tensor(obj["w"], back["w"])


def test_map_location_cpu_loads_a_checkpoint_saved_on_a_gpu(tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.arange(4, dtype=np.float32))
    path = tmp_path / "gpu.nb"
    _write_zip(path, {"numbanet.json": _header({"dict": [["w", {
        "tensor": "tensors/0.npy", "dtype": "float32", "device": "cuda:0",
        "requires_grad": True}]]}), "tensors/0.npy": buf.getvalue()})
    for location in ("cpu", nb.device("cpu"), {"cuda:0": "cpu"}, lambda saved: "cpu"):
        w = nb.load(path, map_location=location)["w"]
        assert w.device == nb.device("cpu") and w.requires_grad and w.dtype == F32
        np.testing.assert_array_equal(w.detach().numpy(), [0, 1, 2, 3])


def test_saved_files_get_the_usual_permissions(tmp_path):
    """Like open(path, 'wb') (and torch.save): the umask decides, not the temporary file's
    private 0600 mode."""
    reference = tmp_path / "plain"
    with open(reference, "wb"):
        pass
    nb.save(nb.ones(2), tmp_path / "saved.nb")
    mode = os.stat(tmp_path / "saved.nb").st_mode & 0o777
    assert mode == os.stat(reference).st_mode & 0o777, oct(mode)


def test_save_accepts_str_and_path_objects_and_overwrites(tmp_path):
    p = tmp_path / "x.nb"
    nb.save(nb.ones(2), str(p))
    nb.save(nb.zeros(3), pathlib.Path(p))
    same_tensor(nb.zeros(3), nb.load(str(p)))
    assert sorted(os.listdir(tmp_path)) == ["x.nb"]


def test_save_of_unsupported_objects_raises_a_type_error_and_writes_nothing(tmp_path):
    for obj in (object(), {"a": [1, {2, 3}]}, {(1, 2): nb.ones(1)}, lambda: 0):
        with pytest.raises(TypeError) as err:
            nb.save(obj, tmp_path / "bad.nb")
        _assert_plain(err)
    assert os.listdir(tmp_path) == []


# ---- the file format never unpickles ------------------------------------------------------------

def test_the_file_holds_only_json_and_npy_entries(tmp_path):
    path = tmp_path / "m.nb"
    nb.save({"a": nb.ones(2, 3), "b": [nb.arange(4), nb.tensor([True])], "c": 1.5}, path)
    assert zipfile.is_zipfile(path)
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        assert "numbanet.json" in names
        others = [n for n in names if n != "numbanet.json"]
        assert len(others) == 3 and all(n.endswith(".npy") for n in others)
        header = json.loads(z.read("numbanet.json"))
        assert header["format"] == "numbanet" and isinstance(header["version"], int)
        for n in others:
            np.load(io.BytesIO(z.read(n)), allow_pickle=False)  # loads without pickle
        assert b"pickle" not in z.read("numbanet.json")


def _write_zip(path, entries: dict):
    with zipfile.ZipFile(path, "w") as z:
        for name, blob in entries.items():
            z.writestr(name, blob)


def _header(root):
    return json.dumps({"format": "numbanet", "version": 1, "root": root})


def test_a_pickled_array_inside_a_file_is_refused_without_running_it(tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.array([_Payload()], dtype=object), allow_pickle=True)
    path = tmp_path / "evil.nb"
    _write_zip(path, {"numbanet.json": _header({"tensor": "tensors/0.npy", "dtype": "float32",
                                                 "device": "cpu", "requires_grad": False}),
                      "tensors/0.npy": buf.getvalue()})
    PWNED.clear()
    with pytest.raises(ValueError) as err:
        nb.load(path)
    assert str(path) in _assert_plain(err)
    assert PWNED == [], "loading a numbanet file ran a pickle"


def test_a_header_that_names_a_missing_entry_is_refused(tmp_path):
    path = tmp_path / "missing_entry.nb"
    _write_zip(path, {"numbanet.json": _header({"tensor": "tensors/7.npy", "dtype": "float32",
                                                 "device": "cpu"})})
    with pytest.raises(ValueError) as err:
        nb.load(path)
    assert str(path) in _assert_plain(err)


def test_a_tensor_whose_dtype_disagrees_with_the_header_is_refused(tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.arange(3, dtype=np.int64))
    path = tmp_path / "mismatch.nb"
    _write_zip(path, {"numbanet.json": _header({"tensor": "tensors/0.npy", "dtype": "float32",
                                                 "device": "cpu"}),
                      "tensors/0.npy": buf.getvalue()})
    with pytest.raises(ValueError) as err:
        nb.load(path)
    assert str(path) in _assert_plain(err)


@pytest.mark.parametrize("header", [
    b"not json at all", json.dumps({"format": "other", "version": 1}).encode(),
    json.dumps({"format": "numbanet", "version": 99, "root": None}).encode(),
    json.dumps([1, 2]).encode(),
    _header({"weird": 1}).encode(),
    _header({"tensor": "tensors/0.npy", "dtype": "complex64", "device": "cpu"}).encode(),
], ids=["not json", "other format", "future version", "list", "unknown node", "bad dtype"])
def test_a_bad_header_gives_a_clear_error_naming_the_file(tmp_path, header):
    path = tmp_path / "bad_header.nb"
    buf = io.BytesIO()
    np.save(buf, np.zeros(2, np.float32))
    _write_zip(path, {"numbanet.json": header, "tensors/0.npy": buf.getvalue()})
    with pytest.raises(ValueError) as err:
        nb.load(path)
    assert str(path) in _assert_plain(err)


# ---- atomic writes --------------------------------------------------------------------------

def test_a_crash_mid_write_leaves_the_old_file_intact_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "model.nb"
    nb.save({"w": nb.arange(5)}, path)
    old_bytes = path.read_bytes()
    calls = []

    def crashing_save(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the first tensor is written, the second one crashes
            raise OSError("disk full (simulated)")
        return real_save(*args, **kwargs)

    real_save = np.save
    monkeypatch.setattr(np, "save", crashing_save)
    with pytest.raises(OSError, match="simulated"):
        nb.save({"a": nb.ones(1000), "b": nb.ones(3)}, path)
    monkeypatch.undo()
    assert len(calls) == 2
    assert path.read_bytes() == old_bytes
    assert os.listdir(tmp_path) == ["model.nb"], "a temporary file was left behind"
    same_tensor(nb.arange(5), nb.load(path)["w"])


def test_an_interrupt_mid_write_leaves_no_file_and_no_temp_file(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        nb.save(nb.ones(2), tmp_path / "new.nb")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_save_into_a_missing_folder_raises_and_creates_nothing(tmp_path):
    with pytest.raises(OSError):
        nb.save(nb.ones(2), tmp_path / "no" / "such" / "dir" / "x.nb")
    assert os.listdir(tmp_path) == []


# ---- damaged, foreign and missing files -------------------------------------------------------

@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "good.nb"
    nb.save({"w": nb.randn(20, 10), "b": nb.arange(10), "meta": {"epoch": 3}}, path)
    return path


def _load_error(path):
    with pytest.raises(ValueError) as err:
        nb.load(path)
    message = _assert_plain(err)
    assert str(path) in message, f"the error does not name the file: {message}"
    return message


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.5, 0.9, 0.99])
def test_a_truncated_file_gives_a_clear_error(saved, fraction):
    blob = saved.read_bytes()
    saved.write_bytes(blob[:int(len(blob) * fraction)])
    _load_error(saved)


@pytest.mark.parametrize("where", [0.02, 0.3, 0.6, 0.97])
def test_a_corrupted_file_gives_a_clear_error(saved, where):
    blob = bytearray(saved.read_bytes())
    at = int(len(blob) * where)
    for i in range(at, min(at + 16, len(blob))):
        blob[i] ^= 0xA5
    saved.write_bytes(bytes(blob))
    _load_error(saved)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(max_size=2000))
def test_random_bytes_give_a_clear_error(tmp_path, blob):
    path = tmp_path / "random.nb"
    path.write_bytes(blob)
    _load_error(path)


def test_a_foreign_zip_gives_a_clear_error(tmp_path):
    path = tmp_path / "foreign.zip"
    _write_zip(path, {"README.txt": b"hello", "data/x.npy": b"\x93NUMPY"})
    message = _load_error(path)
    assert "numbanet" in message


def test_a_numpy_npz_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "arrays.npz"
    np.savez(path, a=np.ones(3))
    _load_error(path)


def test_a_missing_file_gives_a_file_not_found_error_naming_it(tmp_path):
    path = tmp_path / "nope.nb"
    with pytest.raises(FileNotFoundError) as err:
        nb.load(path)
    assert str(path) in str(err.value)


def test_a_directory_gives_a_clear_error(tmp_path):
    with pytest.raises((ValueError, IsADirectoryError, OSError)) as err:
        nb.load(tmp_path)
    assert str(tmp_path) in str(err.value)
