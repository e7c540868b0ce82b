"""The progress display: one line per epoch redrawn in place in a terminal, at most every
0.1 s plus the final state; the final line only when the output is not a terminal; a
display handle in Jupyter; one line per epoch with verbose=2; silence with 0."""
import io
import re
import sys
import types

import numpy as np
import pytest

from numbanet import keras
from numbanet.keras.progress import Progbar, format_value

LINE = re.compile(r"^ *(\d+)/(\d+) \[([=>.]{30})\] - (ETA: \d+s|\d+s) - \d+(us|ms|s)/step"
                  r"( - \w+: [-\d.e]+)*$")


class Terminal(io.StringIO):
    def isatty(self):
        return True


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def run_bar(stream, steps=100, dt=0.01, verbose=1):
    clock = Clock()
    reads = []

    def values():
        reads.append(clock.now)
        return {"accuracy": 0.5, "loss": 0.123456}
    bar = Progbar(steps, stream=stream, clock=clock, verbose=verbose)
    for step in range(1, steps + 1):
        clock.now += dt
        bar.update(step, values)
    bar.update(steps, values, finalize=True)
    return reads


def test_terminal_line_is_redrawn_in_place_at_most_every_tenth_of_a_second():
    stream = Terminal()
    reads = run_bar(stream)           # 100 steps of 10 ms: 1 s in all
    text = stream.getvalue()
    draws = text.split("\r")[1:]
    assert 10 <= len(draws) <= 12     # every 0.1 s, plus the final state
    assert len(reads) == len(draws)   # the metrics are read only when a line is drawn
    assert all(b - a >= 0.1 - 1e-9 for a, b in zip(reads[:-2], reads[1:-1]))
    assert text.endswith("\n") and text.count("\n") == 1
    final = draws[-1].rstrip("\n").rstrip()
    assert final == "100/100 [==============================] - 1s - 10ms/step - " \
                    "accuracy: 0.5000 - loss: 0.1235"
    first = draws[0].rstrip()
    assert LINE.match(first), first
    assert first.startswith("  1/100 [") and "ETA:" in first
    assert ">" in draws[len(draws) // 2]


def test_format_of_every_line():
    stream = Terminal()
    run_bar(stream, steps=7, dt=0.2)
    for line in stream.getvalue().replace("\n", "").split("\r")[1:]:
        assert LINE.match(line.rstrip()), line


def test_not_a_terminal_prints_only_the_final_line():
    stream = io.StringIO()
    reads = run_bar(stream)
    assert reads == [pytest.approx(1.0)]
    assert stream.getvalue() == "100/100 [==============================] - 1s - 10ms/step - " \
                                "accuracy: 0.5000 - loss: 0.1235\n"


def test_verbose_2_prints_one_line_per_epoch_without_a_bar():
    stream = Terminal()
    run_bar(stream, verbose=2)
    assert stream.getvalue() == "100/100 - 1s - 10ms/step - accuracy: 0.5000 - loss: 0.1235\n"


def test_jupyter_uses_one_display_handle_per_epoch(monkeypatch):
    shown = []

    class Handle:
        def update(self, obj):
            shown.append(("update", repr(obj)))

    def display(obj, display_id=False):
        assert display_id is True
        shown.append(("display", repr(obj)))
        return Handle()
    fake = types.ModuleType("IPython.display")
    fake.display = display
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setitem(sys.modules, "IPython", types.ModuleType("IPython"))
    monkeypatch.setitem(sys.modules, "IPython.display", fake)
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    run_bar(None)
    assert out.getvalue() == ""
    assert shown[0][0] == "display" and all(kind == "update" for kind, _ in shown[1:])
    assert 10 <= len(shown) <= 12
    assert shown[-1][1].startswith("100/100 [=====")


def test_small_values_use_scientific_notation_like_keras():
    assert format_value(0.123456) == "0.1235"
    assert format_value(0.0001234) == "1.2340e-04"
    assert format_value(0.0) == "0.0000"


def test_fit_verbose_levels(capsys):
    x, y = np.random.rand(20, 3), np.random.rand(20, 1)
    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    model.fit(x, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(x, y, epochs=2, batch_size=5, validation_split=0.2, verbose=1)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2" and out[2] == "Epoch 2/2" and len(out) == 4
    assert re.match(r"4/4 \[={30}\] - \d+s - \d+(us|ms)/step - loss: [\d.e-]+ - "
                    r"mae: [\d.e-]+ - val_loss: [\d.e-]+ - val_mae: [\d.e-]+$", out[1]), out[1]
    model.fit(x, y, epochs=1, batch_size=5, verbose=2)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and re.match(r"4/4 - \d+s - \d+(us|ms)/step - loss: ", out[0])
    model.evaluate(x, y, verbose="auto")
    assert re.match(r"1/1 \[={30}\] - \d+s - .* - loss: .* - mae: ", capsys.readouterr().out)
    model.predict(x, verbose=1)
    assert capsys.readouterr().out.startswith("1/1 [")
    with pytest.raises(ValueError, match="verbose must be 'auto', 0, 1 or 2"):
        model.fit(x, y, verbose=3)
