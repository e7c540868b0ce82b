"""``import numbanet`` reaches the other programming models without importing them first:
``numbanet.jit``, ``numbanet.static``, ``numbanet.keras``... load on first use."""
import subprocess
import sys

import pytest

LAZY = ["jit", "static", "keras", "models", "viz", "distributed"]


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_plain_import_loads_none_of_them():
    loaded = _run("import sys, numbanet; print(sorted(m for m in "
                  f"{LAZY!r} if 'numbanet.' + m in sys.modules))")
    assert loaded == "[]"


@pytest.mark.parametrize("name", LAZY)
def test_each_is_an_attribute_after_a_plain_import(name):
    import numbanet as nb
    module = getattr(nb, name)
    assert module.__name__ == f"numbanet.{name}"
    assert name in dir(nb)


def test_jit_trace_and_keras_after_a_plain_import():
    out = _run("import numbanet as nb; print(callable(nb.jit.trace), "
               "callable(nb.keras.Sequential), callable(nb.static.placeholder))")
    assert out == "True True True"


def test_an_unknown_attribute_is_still_an_attribute_error():
    import numbanet as nb
    with pytest.raises(AttributeError, match="no attribute 'not_a_thing'"):
        nb.not_a_thing  # noqa: B018
