"""Saving and loading models: ``model.save('m.keras')``, ``keras.models.load_model``.

A ``.keras`` file is a ZIP archive, as in Keras 3, holding:

- ``config.json``: how to rebuild the model, ``{"format": "numbanet.keras",
  "version": 1, "class_name": "Sequential", "config": {"name": ..., "layers": [
  {"class_name": "Dense", "config": {"units": 64, ...}}, ...]}, "compile_config":
  {"optimizer": ..., "loss": ..., "metrics": [...]}}``;
- ``metadata.json``: the numbanet version and the date;
- ``model.weights.npz``: every weight as a NumPy array, named
  ``layers/<index>/<weight>`` (``layers/0/kernel``), by the layer's position;
- ``optimizer.weights.npz``: the optimizer's step count and state (momentum,
  moments), so that training can go on where it stopped.

Nothing in the file is code: layers are rebuilt from their class names and
configs, and the arrays are read through ``fileio`` (never pickle, never np.load). Nothing
is built before the config's sizes and the weights they imply have been checked against
the stored arrays (see "reading" below). (Keras 3 keeps its
weights in HDF5; numbanet uses NumPy's ``.npz`` so that it needs no h5py, which
makes the two kinds of file different.)

``save_weights('w.weights.npz')`` / ``load_weights`` store the weights alone, for a
model built in code.
"""
from __future__ import annotations

import datetime
import io
import json
import math
import os
import warnings
import zipfile

import numpy as np

from ..fileio import (
    ArchiveError,
    npz_names,
    open_zip,
    open_zip_member,
    read_json_member,
    read_npy_header,
    read_npy_member,
    write_atomically,
)
from .layers.convolutional import MAX_SIZE

FORMAT = "numbanet.keras"
VERSION = 1


class FileFormatError(ArchiveError):
    """A file that is not, or is no longer, a valid numbanet Keras file."""


# ---- writing ----------------------------------------------------------------------------------
def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v, order="C") for k, v in arrays.items()})
    return buf.getvalue()


def model_weight_arrays(model) -> dict:
    return {f"layers/{i}/{key}": p.detach().cpu().numpy()
            for i, layer in enumerate(model.layers)
            for key, p in layer._parameters.items() if p is not None}


def _compile_config(model):
    if not model.compiled:
        return None
    from . import losses, optimizers
    try:
        metrics = []
        for m in model._metric_ids:
            if not isinstance(m, str):
                raise ValueError(f"the metric {getattr(m, '__name__', m)!r} is a Python function")
            metrics.append(m)
        return {"optimizer": optimizers.serialize(model.optimizer),
                "loss": losses.serialize(model._loss_fn), "metrics": metrics}
    except ValueError as e:
        warnings.warn(f"save: the model is saved without its compile settings ({e}); call "
                      "compile() again after loading it", stacklevel=4)
        return None


def save_model(model, filepath, overwrite: bool = True) -> None:
    path = os.fspath(filepath)
    if not path.endswith(".keras"):
        raise ValueError(f"save: the file name must end in .keras (the Keras model format), got "
                         f"{path!r}. For the weights alone use save_weights('...weights.npz')")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save: {path!r} exists and overwrite=False")
    config = {"format": FORMAT, "version": VERSION, "class_name": type(model).__name__,
              "config": model.get_config(), "compile_config": _compile_config(model)}
    import numbanet
    metadata = {"numbanet_version": numbanet.__version__,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}
    optimizer_state = model.optimizer.state_arrays(model.trainable_weights) \
        if config["compile_config"] else None

    def write(f):
        with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
            z.writestr("config.json", json.dumps(config, indent=1))
            z.writestr("metadata.json", json.dumps(metadata))
            z.writestr("model.weights.npz", _npz_bytes(model_weight_arrays(model)))
            if optimizer_state is not None:
                z.writestr("optimizer.weights.npz", _npz_bytes(optimizer_state))
    write_atomically(path, write, "Model.save")


def save_weights(model, filepath, overwrite: bool = True) -> None:
    path = os.fspath(filepath)
    if not path.endswith(".weights.npz"):
        raise ValueError(f"save_weights: the file name must end in .weights.npz, got {path!r} "
                         "(numbanet stores weights as NumPy arrays, where Keras uses "
                         ".weights.h5)")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save_weights: {path!r} exists and overwrite=False")
    data = _npz_bytes(model_weight_arrays(model))
    write_atomically(path, lambda f: f.write(data), "save_weights")


# ---- reading ----------------------------------------------------------------------------------
# Nothing in a file is trusted before it is checked: the archive through ``fileio``'s readers
# (inflated sizes, array headers against the bytes there), then config.json against the
# schema below, then the shape of every weight the config implies against the stored array's
# header, all before the first layer is built, so that a 3 KB file declaring Dense(10**9)
# fails at once instead of asking for 30 GiB.

# config fields that are sizes: ints (not bools, not floats) from 1 to MAX_SIZE; a shape is
# a list of them (None allowed for the batch entry), the others an int or a list of ints
_SIZES = ("units", "output_dim", "filters", "groups", "input_dim", "kernel_size",
          "dilation_rate", "pool_size", "strides", "batch_size")
_SHAPES = ("shape", "input_shape", "batch_shape", "build_input_shape")
# a Sequential model of more layers than this is refused: a 64 MB config.json holds a
# million empty layers, and adding a layer to a Sequential costs time in proportion to the
# layers already there (1000 take 0.65 s, 4000 take 7.4 s)
MAX_LAYERS = 1000


def _where(path: str) -> str:
    return f"load_model: {path!r}"


def _check_numbers(value, at: str, where: str) -> None:
    """Every number in ``value`` (a JSON document) is finite."""
    stack = [(value, at)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise FileFormatError(f"{where}: {at} holds {item!r}; a saved model's numbers "
                                  "are finite")
        if isinstance(item, dict):
            stack.extend((v, f"{at}.{k}") for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, f"{at}[{i}]") for i, v in enumerate(item))


def _is_size(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_SIZE


def _check_sizes(config: dict, what: str, where: str) -> None:
    """The size fields of a layer's (or the model's) config: ints in range, or shapes."""
    for key in _SIZES + _SHAPES:
        value = config.get(key)
        if value is None:
            continue
        if key in _SHAPES:
            ok = isinstance(value, list) and all(v is None or _is_size(v) for v in value)
        elif isinstance(value, list):
            ok = all(_is_size(v) or (v is None and key == "strides") for v in value)
        else:
            ok = _is_size(value)
        if not ok:
            kind = "a list of sizes" if key in _SHAPES else "a size or a list of sizes"
            raise FileFormatError(f"{where}: {what} has {key}={value!r}; it must be {kind}, a "
                                  f"size being an int from 1 to {MAX_SIZE}")


def _dense_weights(layer, shape):
    w = {"kernel": (shape[-1], layer.units)}
    return {**w, "bias": (layer.units,)} if layer.use_bias else w


def _conv2d_weights(layer, shape):
    channels = shape[3] if layer.data_format == "channels_last" else shape[1]
    w = {"kernel": (*layer.kernel_size, channels // layer.groups, layer.filters)}
    return {**w, "bias": (layer.filters,)} if layer.use_bias else w


def _batchnorm_weights(layer, shape):
    channels = (shape[layer.axis % len(shape)],)
    names = ["gamma"] * layer.scale + ["beta"] * layer.center + ["moving_mean",
                                                                  "moving_variance"]
    return {name: channels for name in names}


def _no_weights(layer, shape):
    return {}


# what each layer's build(input_shape) creates, by class: the schema that lets load_model
# compare a file's weights with its config before building (tests check it against build)
WEIGHT_SHAPES = {"Dense": _dense_weights, "Conv2D": _conv2d_weights,
                 "BatchNormalization": _batchnorm_weights, "Activation": _no_weights,
                 "Dropout": _no_weights, "Flatten": _no_weights, "MaxPooling2D": _no_weights,
                 "AveragePooling2D": _no_weights}


def _first_shape(config: dict, entry: dict):
    layer = entry["config"]
    if entry.get("class_name") == "InputLayer":
        return None
    if layer.get("input_shape") is not None:
        return (None, *layer["input_shape"])
    if layer.get("input_dim") is not None:
        return (None, layer["input_dim"])
    shape = config.get("build_input_shape")
    return None if shape is None else tuple(shape)


def check_model_config(config: dict, stored: dict, where: str) -> None:
    """Check a Sequential config (the ``config`` entry of config.json) and the stored
    weights' shapes ``{'layers/<i>/<weight>': shape}`` against each other, building
    nothing: every size is an int in range, every layer can be made from its config,
    and every weight its build would create has the shape of the stored array."""
    from .layers import deserialize
    if not isinstance(config, dict) or not isinstance(config.get("layers", []), list):
        raise FileFormatError(f"{where}: config.json's 'config' must be a dict with a list of "
                              "'layers'")
    entries = config.get("layers", [])
    if len(entries) > MAX_LAYERS:
        raise FileFormatError(f"{where}: config.json declares {len(entries)} layers; numbanet "
                              f"loads Sequential models of at most {MAX_LAYERS}")
    _check_sizes(config, "the model", where)
    shape, expected = None, {}
    index = 0
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            raise FileFormatError(f"{where}: layer {position} of config.json is "
                                  f"{str(entry)[:80]!r}, not {{'class_name': ..., 'config': "
                                  "{...}}")
        name = entry.get("class_name")
        what = f"layer {position} ({name} {entry['config'].get('name')!r})"
        _check_numbers(entry["config"], what, where)
        _check_sizes(entry["config"], what, where)
        if position == 0:
            shape = _first_shape(config, entry)
        try:
            with warnings.catch_warnings():  # from_config warns about the same config later
                warnings.simplefilter("ignore")
                layer = deserialize(entry)
        except (TypeError, ValueError, KeyError) as e:
            raise FileFormatError(f"{where}: {what} can't be made from its config: "
                                  f"{e}") from e
        if name == "InputLayer":
            shape = layer.batch_shape
            continue
        if name not in WEIGHT_SHAPES:
            raise FileFormatError(f"{where}: {what}: numbanet can't check a {name} layer's "
                                  "weights before building it")
        if shape is not None:
            try:
                output_shape = layer.compute_output_shape(shape)  # refuses a wrong rank
                weights = WEIGHT_SHAPES[name](layer, shape)
                shape = output_shape
            except (TypeError, ValueError, IndexError, ZeroDivisionError) as e:
                raise FileFormatError(f"{where}: {what} does not fit inputs of shape "
                                      f"{tuple(shape)}: {e}") from e
            for key, weight_shape in weights.items():
                expected[f"layers/{index}/{key}"] = (what, key, weight_shape)
        index += 1
    for key, (what, weight, weight_shape) in expected.items():
        found = stored.get(key)
        if found != weight_shape:
            has = "has no such array" if found is None else f"holds shape {found}"
            raise FileFormatError(f"{where}: {what} weight {weight!r} would have shape "
                                  f"{weight_shape} by config.json, but model.weights.npz "
                                  f"{has}; the file is damaged or crafted, and nothing was "
                                  "built")
    unexpected = sorted(set(stored) - set(expected))
    if unexpected:
        raise FileFormatError(f"{where}: model.weights.npz holds {unexpected[:5]}, which no "
                              "layer of config.json has; the file is damaged or crafted")


def _read_arrays(z, where: str) -> dict:
    """``{name: array}`` of an ``.npz`` archive, every array checked before it is read."""
    return {name: read_npy_member(z, member, where)
            for name, member in npz_names(z, where).items()}


def assign_weights(model, arrays: dict, path: str) -> None:
    """Copy ``layers/<i>/<weight>`` arrays into ``model`` after checking them all."""
    from .layers.layer import copy_into
    expected = {f"layers/{i}/{key}": (layer, key, p) for i, layer in enumerate(model.layers)
                for key, p in layer._parameters.items() if p is not None}
    missing = sorted(set(expected) - set(arrays))
    unexpected = sorted(set(arrays) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{path!r} does not fit this model: missing weights {missing}, "
                         f"unexpected weights {unexpected}. The file must come from a model "
                         "with the same layers in the same order")
    for name, (layer, key, p) in expected.items():
        value = arrays[name]
        if tuple(value.shape) != tuple(p.shape):
            raise ValueError(f"{path!r} does not fit this model: {type(layer).__name__} "
                             f"'{layer.name}' weight '{key}' has shape {tuple(p.shape)}, the "
                             f"file holds {tuple(value.shape)}")
        if value.dtype.kind not in "biuf":
            raise ValueError(f"{path!r}: {type(layer).__name__} '{layer.name}' weight '{key}' "
                             f"holds {value.dtype} values, not real numbers")
    for name, (layer, key, p) in expected.items():
        copy_into(p, arrays[name], f"{layer.name}/{key}")


def _read_config(z, path: str) -> dict:
    where = _where(path)
    names = set(z.namelist())
    if "config.json" not in names:
        raise FileFormatError(f"{where} is a ZIP archive without config.json, not a saved "
                              "model (model.save('....keras') writes one)")
    config = read_json_member(z, "config.json", where)
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        if "model.weights.h5" in names:
            raise FileFormatError(
                f"{where} was saved by Keras itself (its weights are in HDF5), which numbanet "
                "does not read. Build the same model with numbanet.keras and copy the "
                "weights over: numbanet_model.set_weights(keras_model.get_weights())")
        raise FileFormatError(f"{where} is not a numbanet Keras model file (its config.json "
                              "has no 'format': 'numbanet.keras')")
    if config.get("version") != VERSION:
        raise FileFormatError(f"{where} has format version {config.get('version')!r}; this "
                              f"numbanet reads version {VERSION}")
    if config.get("class_name") != "Sequential":
        raise FileFormatError(f"{where} holds a {config.get('class_name')!r} model; "
                              "numbanet.keras rebuilds Sequential models")
    if config.get("compile_config") is not None and not isinstance(config["compile_config"],
                                                                   dict):
        raise FileFormatError(f"{where}: config.json's compile_config must be a dict or null")
    _check_numbers(config.get("compile_config"), "config.json's compile_config", where)
    return config


# Model classes by the class_name of config.json. The models module registers its classes
# here (``register_model``), so that loading rebuilds them through this table and this
# module never imports the models module (which imports this one to save).
_MODEL_CLASSES: dict = {}


def register_model(cls: type) -> type:
    """Let ``load_model`` rebuild ``cls`` (a model class with ``from_config``) from a
    config.json whose class_name is ``cls.__name__``; returns ``cls`` (a decorator)."""
    _MODEL_CLASSES[cls.__name__] = cls
    return cls


def load_model(filepath, compile: bool = True):
    """Rebuild a model saved by ``model.save``, with its weights and, when it was
    compiled and ``compile`` is true, its optimizer (and its state), loss and metrics."""
    path = os.fspath(filepath)
    where = _where(path)
    with open_zip(path, "load_model") as z:
        config = _read_config(z, path)
        if "model.weights.npz" not in z.namelist():
            raise FileFormatError(f"{where} has no model.weights.npz; the file is incomplete")
        with open_zip_member(z, "model.weights.npz", where) as npz:
            stored = {name: read_npy_header(npz, member, where)[0]
                      for name, member in npz_names(npz, where).items()}
            check_model_config(config.get("config"), stored, where)
            weights = _read_arrays(npz, where)
        optimizer_state = None
        if "optimizer.weights.npz" in z.namelist():
            with open_zip_member(z, "optimizer.weights.npz", where) as npz:
                optimizer_state = _read_arrays(npz, where)
    try:
        model = _MODEL_CLASSES[config["class_name"]].from_config(config["config"])
    except (KeyError, TypeError, ValueError) as e:
        raise FileFormatError(f"{where} describes a model that can't be rebuilt: {e}") from e
    assign_weights(model, weights, path)
    compile_config = config.get("compile_config")
    if compile and compile_config:
        try:
            model.compile(**compile_config)
            if optimizer_state is not None:
                model.optimizer.load_state_arrays(model.trainable_weights, optimizer_state)
        except (KeyError, TypeError, ValueError) as e:
            raise FileFormatError(f"{where}: its compile settings or optimizer state can't be "
                                  f"restored: {e}; load_model(..., compile=False) loads the "
                                  "model without them") from e
    return model


def load_weights(model, filepath) -> None:
    path = os.fspath(filepath)
    where = f"load_weights: {path!r}"
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_weights: no such file {path!r}")
    if not model.built:
        raise ValueError("load_weights: the model is not built yet, so it has no weights to "
                         "load into; start it with keras.Input(shape=...) or call "
                         "model.build(input_shape) first")
    with open_zip(path, "load_weights") as z:
        arrays = _read_arrays(z, where)
    assign_weights(model, arrays, path)
