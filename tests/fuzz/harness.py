"""The guarded harness of the fuzz suite: cases run in a long-lived worker process.

A *case* is plain data (a dict of arrays, strings and numbers), so that it can be
printed, replayed and sent over a pipe:

    {"inputs": {"a": {"array": ndarray, "layout": "transposed", "device": "cpu",
                      "requires_grad": False, "from_numpy": False, "as_array": False}, ...},
     "code": "result = a[i].sum()",          # run with M = numbanet (torch for the
                                             # reference), F = M.nn.functional, nn = M.nn
     "expect": None | ("any",) | ("value",) | ("value", plain result) |
               ("raises", "IndexError", ...),
     "may_raise": ("ValueError",),          # also accepted where PyTorch gives a value
     "empty_may_raise": ("IndexError",),    # also accepted where PyTorch gives an empty tensor
     "empty_probe": "code",                 # ... for this code (default: the case's code)
     "or_reference": "code"}                 # a value is accepted where "expect" raises if
                                             # it is PyTorch's for this code

The worker (``python harness.py``: numbanet imported once, under a memory limit)
builds the inputs as numbanet tensors, runs ``code`` and answers with the outcome:
the ``result`` as NumPy arrays, or the exception's type, message and where it was
raised. The parent (pytest + Hypothesis) checks the outcome with :func:`check`; a
case fails when the worker dies by a signal, does not answer in time, raises a type
outside the documented set (any ``numba.*`` error, or an AttributeError, RecursionError,
MemoryError, SystemError, AssertionError from inside numbanet), or returns a value that
disagrees with PyTorch (run here, in the parent, on the same inputs and code).

``NUMBANET_FUZZ_EXAMPLES`` sets the examples per test (default 12, the CI budget),
``NUMBANET_FUZZ_TIMEOUT`` the seconds per case (default 60: a first call may compile
kernels), ``NUMBANET_FUZZ_MEMORY`` the worker's address-space limit in GiB (default 4),
``NUMBANET_FUZZ_STRICT_TYPES=1`` requires PyTorch's exception types exactly, and
``NUMBANET_FUZZ_SURVEY=<file>`` records every case's outcome there (one JSON line each,
summarised by ``survey.py``) instead of failing at the first finding.
"""
from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = float(os.environ.get("NUMBANET_FUZZ_TIMEOUT", 60))
MEMORY_GIB = float(os.environ.get("NUMBANET_FUZZ_MEMORY", 4))
EXAMPLES = int(os.environ.get("NUMBANET_FUZZ_EXAMPLES", 12))

# What numbanet may raise at bad input (each case names the one it expects where PyTorch
# or Keras fixes it). KeyError only where a state dict lacks a key.
DOCUMENTED = ("IndexError", "ValueError", "TypeError", "RuntimeError", "OverflowError",
              "NotImplementedError", "FileNotFoundError", "KeyError", "ZeroDivisionError")
# These are defects whenever they come from inside numbanet (or numba/numpy called by it).
NEVER = ("AttributeError", "RecursionError", "MemoryError", "SystemError", "AssertionError",
         "UnboundLocalError", "NameError")


# ---- building inputs (the same code for numbanet in the worker and torch in the parent) ----

def build(M, spec: dict, device: str = "cpu"):
    """The tensor of module ``M`` (numbanet or torch) described by ``spec``, on
    ``device``: ``array`` in ``layout`` (contiguous, transposed, strided, broadcast,
    as the shared tests/strategies.py draws them), optionally ``from_numpy`` (sharing
    ``spec['array']``'s memory) and ``requires_grad``."""
    array = spec["array"]
    layout = spec.get("layout", "contiguous")
    if spec.get("from_numpy"):
        t = M.from_numpy(array)
        return t.to(device) if device != "cpu" else t
    if layout == "transposed" and array.ndim >= 2:
        base = M.tensor(np.ascontiguousarray(np.swapaxes(array, -1, -2)), device=device)
        t = base.transpose(-1, -2)
    elif layout == "strided" and array.ndim >= 1:
        wide = np.zeros(array.shape[:-1] + (array.shape[-1] * 2,), array.dtype)
        wide[..., ::2] = array
        t = M.tensor(wide, device=device)[..., ::2]
    elif layout == "broadcast" and array.ndim >= 1:
        t = M.tensor(np.ascontiguousarray(array[:1]), device=device).expand(*array.shape)
    else:
        t = M.tensor(array, device=device)
    if spec.get("requires_grad"):
        t = t.detach().requires_grad_(True)
    return t


def reference_array(spec: dict) -> np.ndarray:
    """The values the tensor of ``spec`` holds (the broadcast layout repeats row 0)."""
    a = spec["array"]
    if spec.get("layout") == "broadcast" and a.ndim >= 1 and not spec.get("from_numpy"):
        return np.broadcast_to(a[:1], a.shape).copy()
    return a


def namespace(M, case: dict, device_map=None) -> dict:
    """The names a case's code runs with: M, F, nn, np, and its inputs (``<name>_np`` is
    the NumPy array behind a ``from_numpy`` input, for code that changes it)."""
    ns = {"M": M, "F": M.nn.functional, "nn": M.nn, "np": np}
    for name, spec in case.get("inputs", {}).items():
        if spec.get("as_array"):  # a NumPy array, as Keras and static graphs take them
            ns[name] = spec["array"].copy()
            continue
        if spec.get("from_numpy"):
            spec = dict(spec, array=spec["array"].copy())
            ns[name + "_np"] = spec["array"]
        device = spec.get("device", "cpu")
        if device_map is not None:
            device = device_map(device)
        ns[name] = build(M, spec, device)
    return ns


def plain(value):
    """A result as plain data: tensors (numbanet or torch) become
    ``("tensor", dtype name, shape, values)``; numbers, bools, None, tuples and lists stay."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, (tuple, list)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, np.ndarray):
        return ("tensor", value.dtype.name, tuple(value.shape), value.copy())
    if hasattr(value, "detach") and hasattr(value, "shape"):
        t = value.detach().cpu()
        arr = np.array(t.numpy(), copy=True)
        name = str(t.dtype).replace("torch.", "").replace("numbanet.", "")
        return ("tensor", name, tuple(int(s) for s in t.shape), arr)
    return ("object", type(value).__name__)


def describe_error(e: BaseException) -> dict:
    """An exception as plain data: its type (and base types), message and frames."""
    frames = traceback.extract_tb(e.__traceback__)
    files = [f.filename for f in frames]
    return {"type": type(e).__name__, "module": type(e).__module__,
            "mro": [c.__name__ for c in type(e).__mro__],
            "message": str(e)[:3000],
            "frames": [(f.filename, f.lineno, f.name) for f in frames[-8:]],
            "inside_numbanet": any(_in_package(f, "numbanet") for f in files),
            "innermost": files[-1] if files else ""}


def _in_package(filename: str, package: str) -> bool:
    parts = filename.replace("\\", "/").split("/")
    return package in parts[:-1] or (parts[-1] == package + ".py")


def run_case(M, case: dict, device_map=None):
    """Run ``case`` with module ``M``: ("value", plain result) or ("error", description)."""
    try:
        ns = namespace(M, case, device_map)
        exec(compile(case["code"], "<case>", "exec"), ns)
        return ("value", plain(ns.get("result")))
    except Exception as e:  # noqa: BLE001 - every exception is the outcome to report
        return ("error", describe_error(e))


# ---- the worker process -------------------------------------------------------------------

def _write(out, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(struct.pack("<Q", len(data)) + data)
    out.flush()


def _read_exact(f, n: int) -> bytes:
    chunks = []
    while n:
        chunk = f.read(n)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def serve() -> None:
    """The worker's loop: read a case from stdin, answer on the original stdout (the
    case's own prints go to stderr)."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    inp = sys.stdin.buffer
    import threading
    import warnings
    warnings.simplefilter("ignore")
    # the CUDA simulator runs one Python thread per CUDA thread: small stacks keep them
    # within the address-space limit
    threading.stack_size(1 << 20)
    if MEMORY_GIB > 0:
        try:
            import resource
            limit = int(MEMORY_GIB * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ImportError, ValueError, OSError):
            pass
    import numbanet
    sys.setrecursionlimit(5000)
    _write(out, ("ready", os.getpid()))
    while True:
        try:
            n = struct.unpack("<Q", _read_exact(inp, 8))[0]
            case = pickle.loads(_read_exact(inp, n))
        except EOFError:
            return
        if case.get("kind") == "files":
            from files_worker import run_file_case  # noqa: PLC0415 - worker side only
            outcome = run_file_case(numbanet, case)
        else:
            outcome = run_case(numbanet, case)
        _write(out, outcome)


class Crash(Exception):
    """The worker died (signal, abort) or hung while it ran a case."""


class Worker:
    """A worker subprocess that runs cases; it is restarted after a crash or a hang."""

    def __init__(self, timeout: float = TIMEOUT):
        self.timeout = timeout
        self.proc = None
        self.cases = 0

    def start(self) -> None:
        env = dict(os.environ)
        if "NUMBA_ENABLE_CUDASIM" not in env:
            import glob
            if not (glob.glob("/dev/nvidia[0-9]*") or glob.glob("/proc/driver/nvidia/gpus/*")):
                env["NUMBA_ENABLE_CUDASIM"] = "1"
        env["PYTHONPATH"] = os.pathsep.join([HERE, os.path.dirname(HERE)] +
                                            [p for p in [env.get("PYTHONPATH")] if p])
        env["PYTHONFAULTHANDLER"] = "1"
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "harness.py")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, env=env, cwd=os.path.dirname(HERE))
        kind, _ = self._receive(120.0)
        assert kind == "ready", kind

    def _receive(self, timeout: float):
        fd = self.proc.stdout.fileno()
        buf = b""
        need = 8
        length = None
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, max(need - len(buf), 1 << 16))
            if not chunk:
                raise EOFError
            buf += chunk
            if length is None and len(buf) >= 8:
                length = struct.unpack("<Q", buf[:8])[0]
                buf = buf[8:]
                need = length
            if length is not None and len(buf) >= length:
                return pickle.loads(buf[:length])

    def stderr_tail(self, n: int = 3000) -> str:
        try:
            self.stderr.seek(0)
            return self.stderr.read().decode("utf-8", "replace")[-n:]
        except (OSError, ValueError):
            return ""

    def run(self, case: dict):
        """The outcome of ``case``; raises :class:`Crash` (and restarts the worker on the
        next call) when the worker dies or does not answer within the timeout."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        self.cases += 1
        data = pickle.dumps(case, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.proc.stdin.write(struct.pack("<Q", len(data)) + data)
            self.proc.stdin.flush()
            return self._receive(self.timeout)
        except TimeoutError:
            self.kill()
            raise Crash(f"hang: no answer within {self.timeout:.0f} s "
                        f"(NUMBANET_FUZZ_TIMEOUT)\n{self.stderr_tail()}") from None
        except (EOFError, BrokenPipeError):
            code = self.proc.wait()
            why = f"killed by signal {signal.Signals(-code).name}" if code < 0 else \
                f"exited with status {code}"
            tail = self.stderr_tail()
            self.proc = None
            raise Crash(f"the worker process {why}\n{tail}") from None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    close = kill


# ---- judging an outcome -------------------------------------------------------------------

def replay(case: dict) -> str:
    """A standalone script that replays ``case`` with numbanet."""
    np.set_printoptions(threshold=10**6)
    lines = ["import numpy as np", "import numbanet as M", "import numbanet.nn as nn",
             "import numbanet.nn.functional as F",
             "import sys; sys.path.insert(0, 'tests/fuzz'); from harness import build"]
    for name, spec in case.get("inputs", {}).items():
        arr = spec["array"]
        lines.append(f"{name}_np = np.array({arr.tolist()!r}, dtype={arr.dtype.str!r})"
                     + (f".reshape({arr.shape})" if arr.size == 0 else ""))
        rest = {k: v for k, v in spec.items() if k != "array" and v not in (None, False)}
        if rest.get("layout") == "contiguous":
            rest.pop("layout")
        if spec.get("as_array"):
            lines.append(f"{name} = {name}_np")
        elif spec.get("from_numpy"):
            lines.append(f"{name} = M.from_numpy({name}_np)"
                         + (f".to({spec['device']!r})" if spec.get("device", "cpu") != "cpu"
                            else ""))
        elif not rest:
            lines.append(f"{name} = M.tensor({name}_np)")
        else:
            lines.append(f"{name} = build(M, {{'array': {name}_np, **{rest!r}}}, "
                         f"{spec.get('device', 'cpu')!r})")
    lines.append(case["code"])
    lines.append("print(result)" if "result" in case["code"] else "")
    return "\n".join(lines)


def _error_text(err: dict) -> str:
    where = "".join(f"\n    {f}:{n} in {fn}" for f, n, fn in err["frames"])
    return f"{err['module']}.{err['type']}: {err['message'][:1500]}{where}"


def bad_exception(err: dict) -> str | None:
    """Why an exception is a defect whatever the input, or None when its type is allowed."""
    if err["module"].split(".")[0] == "numba":
        return "a Numba error reached the user"
    if err["type"] in NEVER and err["inside_numbanet"]:
        return f"{err['type']} from inside numbanet"
    if err["type"] in NEVER and err["innermost"] == "<case>":
        return f"{err['type']} (the case uses an API numbanet lacks, or the harness is wrong)"
    if not any(t in err["mro"] for t in DOCUMENTED):
        return f"{err['type']} is not one of numbanet's documented exception types"
    return None


def same_value(got, want, rtol=1e-4, atol=1e-5) -> str | None:
    """Where two plain results differ (None when they agree)."""
    if isinstance(want, tuple) and want and want[0] == "tensor":
        if not (isinstance(got, tuple) and got and got[0] == "tensor"):
            return f"expected a tensor, got {got!r:.200}"
        _, wdt, wshape, warr = want
        _, gdt, gshape, garr = got
        if wshape != gshape:
            return f"shape {gshape}, expected {wshape}"
        if wdt != gdt:
            return f"dtype {gdt}, expected {wdt}"
        if warr.dtype.kind in "fc":
            ok = np.allclose(garr.astype(np.float64), warr.astype(np.float64), rtol=rtol,
                             atol=atol, equal_nan=True)
        else:
            ok = np.array_equal(garr, warr)
        if not ok:
            return f"values\n{garr!r:.1500}\nexpected\n{warr!r:.1500}"
        return None
    if isinstance(want, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(want):
            return f"expected {len(want)} results, got {got!r:.300}"
        for i, (g, w) in enumerate(zip(got, want)):
            why = same_value(g, w, rtol, atol)
            if why:
                return f"result [{i}]: {why}"
        return None
    if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        if np.isclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
            return None
    if type(got) is not type(want) or got != want:
        return f"{got!r:.300}, expected {want!r:.300}"
    return None


def _empty(result) -> bool:
    """Whether a plain result is a tensor with no elements."""
    return isinstance(result, tuple) and len(result) == 4 and result[0] == "tensor" and \
        result[3].size == 0


def torch_reference(case: dict):
    """The outcome of ``case`` run with PyTorch on the CPU (CUDA inputs moved there); the
    test is skipped where PyTorch is not installed, as the other conformance tests are."""
    import pytest
    torch = pytest.importorskip("torch", reason="the fuzz suite compares with PyTorch: "
                                "pip install torch==2.13.0")
    return run_case(torch, case, device_map=lambda d: "cpu")


class Finding(AssertionError):
    """A fuzz case that found a defect; each kind below is raised from its own line, so
    Hypothesis reports the kinds of one test as separate failures."""


class CrashFinding(Finding):
    """The worker died by a signal or hung."""


class BadExceptionFinding(Finding):
    """An exception type that is a defect whatever the input (a Numba error, an
    AttributeError from inside numbanet, ...)."""


class WrongErrorFinding(Finding):
    """An exception of another type than the reference raises."""


class AcceptedFinding(Finding):
    """A value where the reference raises: bad input accepted."""


class RejectedFinding(Finding):
    """An exception where the reference gives a value."""


class WrongValueFinding(Finding):
    """A value that disagrees with the reference's."""


# numbanet's convention, asserted by tests/test_inplace_and_errors.py: shape errors that
# PyTorch raises as RuntimeError are ValueErrors naming the shapes (and an index out of range
# is an IndexError where some PyTorch kernels raise RuntimeError). NUMBANET_FUZZ_STRICT_TYPES=1
# requires PyTorch's type everywhere.
STRICT_TYPES = os.environ.get("NUMBANET_FUZZ_STRICT_TYPES") == "1"
SURVEY = os.environ.get("NUMBANET_FUZZ_SURVEY")


def same_kind(err: dict, expected: tuple, lenient: bool = False) -> bool:
    """Whether exception ``err`` has one of the ``expected`` types (by name); ``lenient``
    (for types that PyTorch chose, unless NUMBANET_FUZZ_STRICT_TYPES=1) follows numbanet's
    convention above."""
    if any(t in err["mro"] for t in expected):
        return True
    return lenient and not STRICT_TYPES and "RuntimeError" in expected and (
        "ValueError" in err["mro"] or "IndexError" in err["mro"])


def _record(kind: str, why: str, case: dict, script: str | None = None) -> None:
    """In a survey run (NUMBANET_FUZZ_SURVEY=file), one JSON line per case, with the
    ``script`` that replays a finding (by default :func:`replay`'s)."""
    import json
    if kind == "ok":
        script = ""
    line = {"test": os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0],
            "outcome": kind, "why": why[:2000], "code": case.get("code", "")[:300],
            "replay": replay(case) if script is None else script}
    with open(SURVEY, "a") as f:
        f.write(json.dumps(line) + "\n")


def check(worker: Worker, case: dict) -> None:
    """Run ``case`` and fail (a :class:`Finding` with a replay script) when numbanet
    crashes, hangs, raises an undocumented type, or disagrees with the expectation:
    ``expect`` is ``("raises", type names...)`` or ``("value", plain result)`` or
    ``("value",)`` (any value); by default PyTorch's outcome on the same code (the same
    value, or an exception of the same type). In a survey run (NUMBANET_FUZZ_SURVEY set
    to a file) findings are written there, one JSON line each, and the test goes on."""
    try:
        _check(worker, case)
    except Finding as e:
        if not SURVEY:
            raise
        _record(type(e).__name__, str(e).split("\n--- replay")[0], case)
    else:
        if SURVEY:
            _record("ok", "", case)


def _check(worker: Worker, case: dict) -> None:
    def text(why):
        return f"{why}\n--- replay (tests/fuzz) ---\n{replay(case)}"
    try:
        kind, got = worker.run(case)
    except Crash as e:
        raise CrashFinding(text(str(e))) from None
    if kind == "error":
        why = bad_exception(got)
        if why:
            raise BadExceptionFinding(text(f"{why}:\n{_error_text(got)}"))
    expect = case.get("expect")
    if expect == ("any",):  # where there is no reference: a value or a documented error
        return
    note = ""
    if expect is None:
        rkind, want = torch_reference(case)
        if rkind == "error" and (want["type"] in NEVER or want["type"] == "NameError"):
            raise AssertionError(text(f"the case is wrong: PyTorch raises {_error_text(want)}"))
        expect = ("raises", want["type"]) if rkind == "error" else ("value", want)
        if rkind == "error":
            note = f" (PyTorch: {want['type']}: {want['message'][:300]})"
    if expect[0] == "raises":
        if kind == "value" and case.get("or_reference"):
            # a value is right too when it is PyTorch's for the code given there
            rkind, want = torch_reference(dict(case, code=case["or_reference"]))
            why = same_value(got, want) if rkind == "value" else "the reference raises"
            if why is None:
                return
            note += f" (nor is it the value of {case['or_reference']!r}: {why[:300]})"
        if kind == "value":
            raise AcceptedFinding(text(f"numbanet returned {got!r:.400} where "
                                       f"{' or '.join(expect[1:])} was expected{note}"))
        if not same_kind(got, expect[1:], lenient=case.get("expect") is None):
            raise WrongErrorFinding(text(f"numbanet raised {got['type']} where "
                                         f"{' or '.join(expect[1:])} was expected{note}:\n"
                                         f"{_error_text(got)}"))
        return
    if kind == "error" and any(t in got["mro"] for t in case.get("may_raise", ())):
        return
    if kind == "error" and any(t in got["mro"] for t in case.get("empty_may_raise", ())):
        probe = case.get("empty_probe")
        if _empty(torch_reference(dict(case, code=probe))[1] if probe else expect[1]):
            return
    if kind == "error":
        raise RejectedFinding(text(f"numbanet raised where a value was expected:\n"
                                   f"{_error_text(got)}"))
    if len(expect) > 1:
        why = same_value(got, expect[1])
        if why:
            raise WrongValueFinding(text(f"numbanet's result disagrees with the reference: "
                                         f"{why}"))


if __name__ == "__main__":
    serve()
