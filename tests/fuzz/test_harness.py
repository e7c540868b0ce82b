"""The harness catches what the fuzz suite looks for: a worker killed by a signal, a hang,
a Numba error or an undocumented exception type, a value that disagrees with PyTorch, an
allocation beyond the worker's memory limit; and it recovers from each to run the next case."""
from __future__ import annotations

import harness
import numpy as np
import pytest
from harness import Worker, check


@pytest.fixture(autouse=True)
def failing_at_findings(monkeypatch):
    """These tests check that findings fail a case, also during a survey run."""
    monkeypatch.setattr(harness, "SURVEY", None)


def case(code, **inputs):
    return {"inputs": {k: {"array": np.asarray(v)} for k, v in inputs.items()}, "code": code}


def test_a_segfault_fails_the_case_and_the_next_case_runs(worker):
    with pytest.raises(AssertionError, match="killed by signal SIGSEGV"):
        check(worker, case("import ctypes\nctypes.string_at(1)"))
    check(worker, case("result = a + 1", a=[1.0, 2.0]))


def test_a_hang_fails_the_case_within_the_timeout():
    w = Worker(timeout=3)
    try:
        with pytest.raises(AssertionError, match="hang: no answer within 3 s"):
            check(w, case("import time\ntime.sleep(600)"))
        check(w, case("result = a * 2", a=[1.0]))
    finally:
        w.close()


def test_a_numba_error_reaching_the_user_fails_the_case(worker):
    with pytest.raises(AssertionError, match="a Numba error reached the user"):
        check(worker, case("from numba.core.errors import TypingError\n"
                           "raise TypingError('Cannot unify')"))


def test_an_allocation_beyond_the_memory_limit_fails_instead_of_swapping(worker):
    with pytest.raises(AssertionError, match="MemoryError is not one of numbanet's documented"):
        check(worker, case("result = np.ones(2**37, np.int8).sum()"))


def test_an_exception_type_that_differs_from_pytorchs_fails(worker):
    with pytest.raises(AssertionError, match="raised IndexError where ValueError"):
        check(worker, case("if M.__name__ == 'numbanet':\n    raise IndexError('x')\n"
                           "raise ValueError('y')"))


def test_a_value_that_differs_from_pytorchs_fails_and_prints_a_replay(worker):
    code = "result = a + 1 if M.__name__ == 'torch' else a + 2"
    with pytest.raises(AssertionError, match="disagrees(.|\n)*replay(.|\n)*a_np = np.array"):
        check(worker, case(code, a=[1.0, 2.0]))


def test_accepting_what_pytorch_rejects_fails(worker):
    code = "result = a.sum() if M.__name__ != 'torch' else a[5]"
    with pytest.raises(AssertionError, match="where IndexError was expected"):
        check(worker, case(code, a=[1.0, 2.0]))


class StubWorker:
    """Answers every file case with one outcome, as the worker would."""

    def __init__(self, *outcome):
        self.outcome = outcome

    def run(self, case):
        return self.outcome

    def kill(self):
        pass


def error(kind="ValueError", message="load: '/tmp/x/fuzzed.nbz' is damaged", stage="load"):
    return {"type": kind, "module": "builtins", "mro": [kind, "Exception"], "message": message,
            "frames": [], "inside_numbanet": True, "innermost": "", "stage": stage}


SAVED = ("tensor", "float32", (2,), np.array([1.0, 2.0], np.float32))


@pytest.mark.parametrize("outcome, finding", [
    (("value", SAVED, {"grew_mib": 900}), "memory grow by 900 MiB"),
    (("value", ("tensor", "float32", (2,), np.array([1.0, 3.0], np.float32)),
      {"grew_mib": 0}), "a damaged file loaded as other values"),
    (("error", error(message="EOF: reading array data"), {"grew_mib": 0}),
     "does not name the file"),
    (("error", error("BadZipFile"), {"grew_mib": 0}), "not one of numbanet's documented"),
    (("error", error("TypeError", "fuzzed: bad"), {"grew_mib": 0}), "expected ValueError"),
    (("error", error("IndexError", "fuzzed", stage="use"), {"grew_mib": 0}),
     "jit.load accepted the file, then running it raised"),
])
def test_file_cases_fail_on_memory_bombs_changed_values_and_bad_errors(outcome, finding):
    from test_fuzz_files import check_file
    fmt = "jit" if "jit.load" in finding else "nbsave"
    with pytest.raises(AssertionError, match=finding):
        check_file(StubWorker(*outcome), fmt, b"PK", "bits flipped", True, SAVED)


def test_a_file_case_passes_with_the_saved_values_or_a_value_error_naming_the_file():
    from test_fuzz_files import check_file
    check_file(StubWorker("value", SAVED, {"grew_mib": 1}), "nbsave", b"PK", "", True, SAVED)
    check_file(StubWorker("error", error(), {"grew_mib": 1}), "nbsave", b"PK", "", True, SAVED)
