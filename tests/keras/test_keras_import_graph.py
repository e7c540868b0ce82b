"""numbanet.keras has no import circle (DESIGN.md): not at module level, and not through
imports inside functions either (saving rebuilds models through its registry instead of
importing the models module). The graph is read from the source by tests/test_layering.py's
helpers, importing nothing."""
from __future__ import annotations

import pytest
from test_layering import _circles, _import_graph


@pytest.mark.parametrize("anywhere", [False, True], ids=["module level", "anywhere"])
def test_numbanet_keras_modules_import_each_other_without_a_circle(anywhere):
    circles = _circles(_import_graph(anywhere))
    assert [c for c in circles if any(m.startswith("numbanet.keras") for m in c)] == []


def test_load_model_rebuilds_sequential_through_the_registry():
    from numbanet.keras import models, saving
    assert saving._MODEL_CLASSES["Sequential"] is models.Sequential
    assert "numbanet.keras.models" not in _import_graph(anywhere=True)["numbanet.keras.saving"]
