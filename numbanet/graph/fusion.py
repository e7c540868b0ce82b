"""Kernel fusion: one generated Numba kernel for a chain of elementwise ops.

``passes.fuse_elementwise`` turns a group of elementwise nodes into a
*program*: the external inputs (arrays or scalars), the ops in order (each a
scalar function of ``backend/scalar.py`` applied to inputs or to earlier
results) and which results to write out. This module writes the Python source
of a kernel for that program and compiles it for the CPU (``njit``) or CUDA
(``cuda.jit``), calling the very scalar functions the unfused kernels call.
For ``relu(a * b + c)`` on the CPU the body of the loop is::

    x0 = in0[i]; x1 = in1[i]; x2 = in2[i]
    t0 = np.float32(f_mul(x0, x1))
    t1 = np.float32(f_add(t0, x2))
    t2 = np.float32(f_relu(t1))
    out0[i] = t2

Each result is converted to its node's dtype, as storing it into that node's
array would, so a fused chain computes exactly what the unfused one does.

Two variants are generated per program, as for the backend's own kernels: a
flat loop, used when every array operand is C-contiguous and of the output's
shape, and a 4-D loop that follows strides and broadcasts size-1 dimensions.

Compile once per pattern. The source is written to a file named by a hash of
the program and of the scalar functions it calls, in the kernel cache folder
(``$NUMBANET_CACHE_DIR``, else ``~/.cache/numbanet``), and imported from there,
so Numba's ``cache=True`` keeps the machine code on disk between processes; in
a process each pattern is compiled at most once per target.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile

from ..backend import scalar
from ..backend.specialise import fingerprint

_CAST = {"float32": "np.float32({})", "float64": "np.float64({})", "int64": "np.int64({})",
         "bool": "({} != 0)"}
_KERNELS: dict = {}  # (target, key) -> module


def _fn_of(kind: str, name: str):
    return scalar.UNARY[name] if kind == "unary" else scalar.BINARY[name]


def program_key(program) -> str:
    """A name for the pattern: the same ops on the same dtypes give the same kernel."""
    parts = [repr(program["inputs"]), repr(program["ops"]), repr(program["outputs"])]
    for kind, name, _, _ in program["ops"]:
        if kind != "where":
            parts.append(f"{name}:{fingerprint(_fn_of(kind, name))}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def _body(program, read, indent: str) -> list:
    """Lines computing every op from the loaded inputs ``x{k}`` into ``t{j}``."""
    lines = []
    for k, (kind, _, _) in enumerate(program["inputs"]):
        lines.append(f"{indent}x{k} = {read(k) if kind == 'array' else f'in{k}'}")
    for j, (kind, name, refs, dtype) in enumerate(program["ops"]):
        args = [f"x{r}" if src == "in" else f"t{r}" for src, r in refs]
        if kind == "where":
            expr = f"({args[1]} if {args[0]} else {args[2]})"
        else:
            expr = f"f_{name}({', '.join(args)})"
        lines.append(f"{indent}t{j} = {_CAST[dtype].format(expr)}")
    return lines


def _source(program, target: str) -> str:
    n_in = len(program["inputs"])
    outs = program["outputs"]
    params = ", ".join([f"in{k}" for k in range(n_in)] + [f"out{o}" for o in range(len(outs))])
    names = sorted({(kind, name) for kind, name, _, _ in program["ops"] if kind != "where"})
    head = ["import math", "import numpy as np", "from numbanet.backend import scalar as _scalar"]
    if target == "cpu":
        head += ["from numba import njit", "",
                 "_jit = njit(cache=True, error_model='numpy')"]
        head += [f"f_{name} = njit(_scalar.{_fn_of(kind, name).__name__})"
                 for kind, name in names]
    else:
        head += ["from numba import config, cuda", "",
                 "_jit = cuda.jit(cache=not config.ENABLE_CUDASIM)"]
        head += [f"f_{name} = cuda.jit(device=True)(_scalar.{_fn_of(kind, name).__name__})"
                 for kind, name in names]
    lines = head + ["", ""]
    arrays = [k for k, (kind, _, _) in enumerate(program["inputs"]) if kind == "array"]
    writes = [(o, j) for o, j in enumerate(outs)]

    # flat: every array operand C-contiguous, of the output's shape (1-D views on CUDA)
    lines += ["@_jit", f"def flat({params}):"]
    if target == "cpu":
        lines += [f"    v{k} = in{k}.ravel()" for k in arrays]
        lines += [f"    w{o} = out{o}.ravel()" for o, _ in writes]
        lines += ["    for i in range(w0.shape[0]):"]
        lines += _body(program, lambda k: f"v{k}[i]", " " * 8)
        lines += [f"        w{o}[i] = t{j}" for o, j in writes]
    else:
        lines += ["    i = cuda.grid(1)", "    step = cuda.gridsize(1)",
                  "    while i < out0.shape[0]:"]
        lines += _body(program, lambda k: f"in{k}[i]", " " * 8)
        lines += [f"        out{o}[i] = t{j}" for o, j in writes]
        lines += ["        i += step"]
    lines += ["", ""]

    # strided: 4-D operands aligned to the right; a dimension of size 1 broadcasts
    def at(k):
        return (f"in{k}[min(a, m{k}_0), min(b, m{k}_1), min(c, m{k}_2), min(d, m{k}_3)]")

    lines += ["@_jit", f"def strided({params}):"]
    lines += [f"    m{k}_0, m{k}_1, m{k}_2, m{k}_3 = in{k}.shape[0] - 1, in{k}.shape[1] - 1, "
              f"in{k}.shape[2] - 1, in{k}.shape[3] - 1" for k in arrays]
    lines += ["    n0, n1, n2, n3 = out0.shape"]
    if target == "cpu":
        lines += ["    for a in range(n0):", "        for b in range(n1):",
                  "            for c in range(n2):", "                for d in range(n3):"]
        indent = " " * 20
    else:
        lines += ["    i = cuda.grid(1)", "    step = cuda.gridsize(1)",
                  "    while i < n0 * n1 * n2 * n3:",
                  "        d, r = i % n3, i // n3", "        c, r = r % n2, r // n2",
                  "        a, b = r // n1, r % n1"]
        indent = " " * 8
    lines += _body(program, at, indent)
    lines += [f"{indent}out{o}[a, b, c, d] = t{j}" for o, j in writes]
    if target != "cpu":
        lines += ["        i += step"]
    return "\n".join(lines) + "\n"


def cache_dir() -> str:
    """Where generated kernels and their compiled code are kept."""
    base = os.environ.get("NUMBANET_CACHE_DIR") or os.path.join(os.path.expanduser("~"),
                                                                 ".cache", "numbanet")
    folder = os.path.join(base, "fused")
    try:
        os.makedirs(folder, exist_ok=True)
        probe = os.path.join(folder, ".writable")
        with open(probe, "w"):
            pass
    except OSError:  # a read-only home: a folder of our own in the temporary directory
        folder = os.path.join(tempfile.gettempdir(), f"numbanet-fused-{os.getuid()}")
        os.makedirs(folder, exist_ok=True)
    return folder


def kernels_for(program, target: str):
    """The module holding ``flat`` and ``strided`` for ``program`` on ``target`` ('cpu' or
    'cuda'), generated and imported on first use."""
    key = (target, program_key(program))
    module = _KERNELS.get(key)
    if module is not None:
        return module
    source = _source(program, target)
    name = f"numbanet_fused_{target}_{key[1]}"
    path = os.path.join(cache_dir(), name + ".py")
    try:
        with open(path) as f:
            current = f.read()
    except OSError:
        current = None
    if current != source:  # write only when needed: a rewrite would invalidate Numba's cache
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    _KERNELS[key] = module
    return module


def source_of(program, target: str = "cpu") -> str:
    """The generated kernel source for ``program`` (for reading and teaching)."""
    return _source(program, target)
