"""``Progbar``: the one-line progress display of ``fit(verbose=1)``.

::

    Epoch 3/30
    12/45 [=======>......................] - ETA: 0s - 2ms/step - accuracy: 0.9115 - loss: 0.2731

The line is redrawn in place as training goes on, at most once every ``interval``
seconds (0.1 by default) plus once at the end, so a fast loop doesn't spend its
time printing or flood a notebook with output. How it is redrawn depends on where
the output goes:

- a terminal: ``'\\r'`` returns to the start of the line, which is written again;
- Jupyter (``ipykernel`` is running and IPython is importable): one display per
  epoch, updated through its display handle;
- anything else (a file, a pipe, a notebook without IPython): only the final line of
  each epoch is printed.

``verbose=2`` prints only the final line of each epoch, without the bar.
Metric values are read when a line is drawn and not before, so that a model on a
GPU is not made to wait for them at every step.
"""
from __future__ import annotations

import sys
import time
from typing import Callable, Mapping


def format_value(value: float) -> str:
    """Keras's number format: 4 decimals, or scientific notation for tiny values."""
    return f"{value:.4f}" if abs(value) > 1e-3 or value == 0 else f"{value:.4e}"


def format_time_per_step(seconds: float, unit: str = "step") -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/{unit}"
    return f"{seconds * 1e6:.0f}us/{unit}"


def _jupyter_display():
    """IPython's ``display`` when running in a Jupyter kernel, else None."""
    if "ipykernel" not in sys.modules:
        return None
    try:
        from IPython.display import display
    except ImportError:
        return None
    return display


class _TextLine:
    """What Jupyter shows: the line as plain text (``text/plain``)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


class Progbar:
    """A progress line for ``target`` steps, redrawn by ``update(current, values)``.

    ``values`` is a mapping of metric names to numbers, or a function returning one
    (called only when the line is drawn).
    """

    def __init__(self, target: int | None, width: int = 30, verbose: int = 1,
                 interval: float = 0.1, stream=None, unit_name: str = "step",
                 clock: Callable[[], float] = time.monotonic):
        self.target, self.width, self.verbose = target, width, verbose
        self.interval, self.unit_name = interval, unit_name
        self.stream = stream if stream is not None else sys.stdout
        self._clock = clock
        self._start = clock()
        self._last_draw = None
        self._previous_width = 0
        self._handle = None
        display = _jupyter_display() if self.stream is sys.stdout else None
        self._display = display
        isatty = getattr(self.stream, "isatty", None)
        self._in_place = display is None and bool(isatty and isatty())

    def update(self, current: int, values: Mapping | Callable[[], Mapping] | None = None,
               finalize: bool = False) -> None:
        now = self._clock()
        if self.verbose == 0:
            return
        if not finalize:
            if self.verbose != 1 or not (self._in_place or self._display):
                return
            if self._last_draw is not None and now - self._last_draw < self.interval:
                return
        self._last_draw = now
        if callable(values):
            values = values()
        line = self._line(current, dict(values or {}), finalize, now)
        self._show(line, finalize)

    def _line(self, current: int, values: dict, finalize: bool, now: float) -> str:
        elapsed = now - self._start
        per_step = elapsed / current if current else 0.0
        target = self.target
        count = f"{current:{len(str(target))}d}/{target}" if target else f"{current}/Unknown"
        metrics = "".join(f" - {k}: {format_value(float(v))}" for k, v in values.items())
        rate = format_time_per_step(per_step, self.unit_name)
        if self.verbose == 2:
            return f"{count} - {elapsed:.0f}s - {rate}{metrics}"
        bar = ""
        if target:
            done = int(self.width * min(current, target) / target)
            arrow = ">" if 0 < done < self.width else ("=" if done else "")
            bar = " [" + "=" * max(done - 1, 0) + arrow + "." * (self.width - done) + "]"
        when = f"{elapsed:.0f}s" if finalize or not target else \
            f"ETA: {per_step * (target - current):.0f}s"
        return f"{count}{bar} - {when} - {rate}{metrics}"

    def _show(self, line: str, finalize: bool) -> None:
        if self._display is not None:
            if self._handle is None:
                self._handle = self._display(_TextLine(line), display_id=True)
            else:
                self._handle.update(_TextLine(line))
            return
        if self._in_place and self.verbose == 1:
            padding = " " * max(self._previous_width - len(line), 0)
            self.stream.write("\r" + line + padding + ("\n" if finalize else ""))
            self._previous_width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
