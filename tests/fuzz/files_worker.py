"""The worker's side of the file fuzzing (see harness.py and test_fuzz_files.py): write the
case's bytes to a file, load it with the format's loader, use what was loaded, and report
the outcome as plain data, with the stage that raised ("load" or "use") and how much the
worker's peak memory grew."""
from __future__ import annotations

import os
import resource
import tempfile

import numpy as np
from harness import describe_error, plain

SUFFIX = {"nbsave": ".nbz", "jit": ".nbg", "keras": ".keras", "weights": ".weights.npz"}


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def deep_plain(obj):
    """What ``nb.load`` returned, as plain data (dicts become sorted item lists)."""
    if isinstance(obj, dict):
        return ("dict", sorted(((repr(k), deep_plain(v)) for k, v in obj.items()),
                               key=lambda kv: kv[0]))
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [deep_plain(v) for v in obj])
    return plain(obj)


def use(nb, fmt: str, path: str, case: dict):
    """Load ``path`` as ``fmt`` (stage "load"), then use the result (stage "use")."""
    stage = ["load"]
    try:
        if fmt == "nbsave":
            obj = nb.load(path)
            stage[0] = "use"
            return ("value", deep_plain(obj)), stage
        if fmt == "jit":
            import numbanet.jit
            graph = numbanet.jit.load(path)
            stage[0] = "use"
            if any(np.prod(shape, dtype=float) > 1e6 for _, shape, _ in graph.inputs):
                return ("value", "inputs too large to try"), stage
            inputs = [np.linspace(-1, 1, int(np.prod(shape))).reshape(shape).astype(d.numpy)
                      for _, shape, d in graph.inputs]
            return ("value", plain(graph(*inputs))), stage
        from numbanet import keras
        if fmt == "keras":
            model = keras.models.load_model(path)
        else:
            ns = {"keras": keras, "np": np, "nb": nb}
            exec(case["build"], ns)
            model = ns["model"]
            model.load_weights(path)
        stage[0] = "use"
        return ("value", plain(model.predict(case["probe"], verbose=0))), stage
    except Exception as e:  # noqa: BLE001 - the exception is the outcome
        return ("error", describe_error(e)), stage


def run_file_case(nb, case: dict):
    fmt = case["format"]
    folder = tempfile.mkdtemp(prefix="numbanet-fuzz-")
    path = os.path.join(folder, "fuzzed" + SUFFIX[fmt])
    if case["data"] is not None:  # None: the file does not exist
        with open(path, "wb") as f:
            f.write(case["data"])
    before = peak_mib()
    try:
        (kind, value), stage = use(nb, fmt, path, case)
    finally:
        if os.path.exists(path):
            os.remove(path)
        os.rmdir(folder)
    if kind == "error":
        value["stage"] = stage[0]
    return kind, value, {"grew_mib": peak_mib() - before, "path": path}
