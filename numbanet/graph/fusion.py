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

Compile once per pattern. The source is written to a file named by the SHA-256
of the source itself, in the kernel cache folder (``$NUMBANET_CACHE_DIR``, else
``~/.cache/numbanet``, else a folder of this user's in the temporary directory),
so that Numba's ``cache=True`` keeps the machine code on disk between processes;
in a process each pattern is compiled at most once per target. What runs is
always the source generated here, never what a file holds: a file whose content
does not hash to its name is replaced. And since Numba's cache files are
pickles, the folder must be private (made 0700, owned by this user, writable by
no one else, as its parent unless that is sticky like /tmp): a folder that is
not is never used, and kernels are then compiled in memory, without a file.
"""
from __future__ import annotations

import hashlib
import os
import stat
import sys
import tempfile
import types

from ..backend import scalar
from ..backend.specialise import fingerprint
from ..fileio import write_atomically

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


def _source(program, target: str, cache: bool = True) -> str:
    n_in = len(program["inputs"])
    outs = program["outputs"]
    params = ", ".join([f"in{k}" for k in range(n_in)] + [f"out{o}" for o in range(len(outs))])
    names = sorted({(kind, name) for kind, name, _, _ in program["ops"] if kind != "where"})
    head = ["import math", "import numpy as np", "from numbanet.backend import scalar as _scalar"]
    if target == "cpu":
        head += ["from numba import njit", "",
                 f"_jit = njit(cache={cache}, error_model='numpy')"]
        head += [f"f_{name} = njit(_scalar.{_fn_of(kind, name).__name__})"
                 for kind, name in names]
    else:
        head += ["from numba import config, cuda", "",
                 f"_jit = cuda.jit(cache={cache} and not config.ENABLE_CUDASIM)"]
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


def _private(folder: str) -> bool:
    """Whether ``folder`` is a real folder (not a link) of this user's that no one else can
    write, in a parent that no one else can rename it out of."""
    try:
        st = os.lstat(folder)
        parent = os.stat(os.path.dirname(folder))
    except OSError:
        return False
    others_write = stat.S_IWGRP | stat.S_IWOTH
    return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and
            not st.st_mode & others_write and
            (not parent.st_mode & others_write or bool(parent.st_mode & stat.S_ISVTX)))


def cache_dir() -> str | None:
    """The private folder where generated kernels and their compiled code are kept, or None
    when no folder of this user's can be had (kernels are then compiled in memory)."""
    base = os.environ.get("NUMBANET_CACHE_DIR") or os.path.join(os.path.expanduser("~"),
                                                                 ".cache", "numbanet")
    fallback = os.path.join(tempfile.gettempdir(), f"numbanet-fused-{os.getuid()}")
    for folder in (os.path.join(base, "fused"), fallback):
        try:
            os.makedirs(os.path.dirname(folder), exist_ok=True)
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        except OSError:  # a read-only home: try the next place
            continue
        if not _private(folder):
            return None  # someone else's, or open to others: never read code from it
        if os.access(folder, os.W_OK | os.X_OK):
            return folder
    return None


def kernel_path(folder: str, program, target: str) -> str:
    """The file of ``program``'s kernels in ``folder``: named by the SHA-256 of their source."""
    digest = hashlib.sha256(_source(program, target).encode()).hexdigest()
    return os.path.join(folder, f"numbanet_fused_{target}_{digest}.py")


def _cached_file(program, target: str) -> str | None:
    """The cache file holding ``program``'s source (written if it is missing or holds
    anything else), or None when there is no private folder or it cannot be written."""
    folder = cache_dir()
    if folder is None:
        return None
    path = kernel_path(folder, program, target)
    source = _source(program, target).encode()
    try:
        with open(path, "rb") as f:
            current = f.read()
    except OSError:
        current = None
    if current != source:  # written only when needed: a rewrite invalidates Numba's cache
        try:
            write_atomically(path, lambda f: f.write(source), "fused kernel cache")
        except OSError:  # a full disk: compile without the cache
            return None
    return path


def kernels_for(program, target: str):
    """The module holding ``flat`` and ``strided`` for ``program`` on ``target`` ('cpu' or
    'cuda'), generated and compiled on first use."""
    key = (target, program_key(program))
    module = _KERNELS.get(key)
    if module is not None:
        return module
    filename = _cached_file(program, target)
    if filename is None:  # no private folder: no file, nothing cached
        source = _source(program, target, cache=False)
        filename = f"<numbanet_fused_{target}_{hashlib.sha256(source.encode()).hexdigest()}>"
    else:
        source = _source(program, target)
    name = os.path.basename(filename).strip("<>").removesuffix(".py")
    # Run the source made here (Numba finds the file by the code's file name, for its cache)
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    exec(compile(source, filename, "exec"), module.__dict__)
    _KERNELS[key] = module
    return module


def source_of(program, target: str = "cpu") -> str:
    """The generated kernel source for ``program`` (for reading and teaching)."""
    return _source(program, target)
