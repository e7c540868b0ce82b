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
configs, and the arrays are read with ``allow_pickle=False``. (Keras 3 keeps its
weights in HDF5; numbanet uses NumPy's ``.npz`` so that it needs no h5py, which
makes the two kinds of file different.)

``save_weights('w.weights.npz')`` / ``load_weights`` store the weights alone, for a
model built in code.
"""
from __future__ import annotations

import datetime
import io
import json
import os
import warnings
import zipfile

import numpy as np

from ..fileio import write_atomically

FORMAT = "numbanet.keras"
VERSION = 1


class FileFormatError(ValueError):
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
def _read_npz(data: bytes, path: str, what: str) -> dict:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise FileFormatError(f"{path!r}: the {what} can't be read ({e}); the file is damaged")


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
    for name, (layer, key, p) in expected.items():
        copy_into(p, arrays[name], f"{layer.name}/{key}")


def _open_archive(path: str) -> zipfile.ZipFile:
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_model: no such file {path!r}")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise FileFormatError(f"load_model: {path!r} is not a numbanet Keras model file: it is "
                              f"not a ZIP archive ({e}). It may be truncated or damaged, or "
                              "be of another format") from None


def _read_config(z: zipfile.ZipFile, path: str) -> dict:
    names = set(z.namelist())
    if "config.json" not in names:
        raise FileFormatError(f"load_model: {path!r} is a ZIP archive without config.json, not "
                              "a saved model (model.save('....keras') writes one)")
    try:
        config = json.loads(z.read("config.json"))
    except (ValueError, zipfile.BadZipFile, EOFError, OSError) as e:
        raise FileFormatError(f"load_model: {path!r} is damaged: its config.json can't be read "
                              f"({e})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        if "model.weights.h5" in names:
            raise FileFormatError(
                f"load_model: {path!r} was saved by Keras itself (its weights are in HDF5), "
                "which numbanet does not read. Build the same model with numbanet.keras and "
                "copy the weights over: numbanet_model.set_weights(keras_model.get_weights())")
        raise FileFormatError(f"load_model: {path!r} is not a numbanet Keras model file (its "
                              "config.json has no 'format': 'numbanet.keras')")
    if config.get("version") != VERSION:
        raise FileFormatError(f"load_model: {path!r} has format version "
                              f"{config.get('version')}; this numbanet reads version {VERSION}")
    return config


def load_model(filepath, compile: bool = True):
    """Rebuild a model saved by ``model.save``, with its weights and, when it was
    compiled and ``compile`` is true, its optimizer (and its state), loss and metrics."""
    from .models import Sequential
    path = os.fspath(filepath)
    with _open_archive(path) as z:
        config = _read_config(z, path)
        if config.get("class_name") != "Sequential":
            raise FileFormatError(f"load_model: {path!r} holds a {config.get('class_name')!r} "
                                  "model; numbanet.keras rebuilds Sequential models")
        try:
            weights = z.read("model.weights.npz")
            optimizer_data = z.read("optimizer.weights.npz") \
                if "optimizer.weights.npz" in z.namelist() else None
        except KeyError:
            raise FileFormatError(f"load_model: {path!r} has no model.weights.npz; the file is "
                                  "incomplete") from None
        except (zipfile.BadZipFile, EOFError, OSError) as e:
            raise FileFormatError(f"load_model: {path!r} is damaged ({e})") from None
    try:
        model = Sequential.from_config(config["config"])
    except (KeyError, TypeError, ValueError) as e:
        raise FileFormatError(f"load_model: {path!r} describes a model that can't be rebuilt: "
                              f"{e}") from None
    assign_weights(model, _read_npz(weights, path, "weights"), path)
    compile_config = config.get("compile_config")
    if compile and compile_config:
        model.compile(**compile_config)
        if optimizer_data is not None:
            model.optimizer.load_state_arrays(model.trainable_weights,
                                              _read_npz(optimizer_data, path, "optimizer state"))
    return model


def load_weights(model, filepath) -> None:
    path = os.fspath(filepath)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_weights: no such file {path!r}")
    if not model.built:
        raise ValueError("load_weights: the model is not built yet, so it has no weights to "
                         "load into; start it with keras.Input(shape=...) or call "
                         "model.build(input_shape) first")
    with open(path, "rb") as f:
        data = f.read()
    assign_weights(model, _read_npz(data, path, "weights"), path)
