"""The harness catches what the fuzz suite looks for: a worker killed by a signal, a hang,
a Numba error or an undocumented exception type, a value that disagrees with PyTorch, an
allocation beyond the worker's memory limit; and it recovers from each to run the next case."""
from __future__ import annotations

import numpy as np
import pytest

from harness import Worker, check


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
