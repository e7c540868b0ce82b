"""Training curves with matplotlib: a list of losses, or the history of ``fit``.

matplotlib is optional (``pip install "numbanet[notebooks]"``); it is imported the
first time a plot is drawn. Each function returns the matplotlib ``Figure``, and
draws into axes you pass (``ax=``) instead of a new figure if you like.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

INSTALL_HINT = 'pip install "numbanet[notebooks]" (or pip install matplotlib)'


def require_pyplot():
    """``matplotlib.pyplot``, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(f"numbanet.viz draws its plots with matplotlib, which is not "
                          f"installed here: {INSTALL_HINT}") from e
    return plt


def _values(series, what: str) -> np.ndarray:
    try:
        values = np.array([float(v) for v in series], dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what}: expected a sequence of numbers, got "
                        f"{type(series).__name__} ({e})") from None
    if values.size == 0:
        raise ValueError(f"{what}: nothing to plot, the sequence is empty")
    return values


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """The mean of each value and the ``window - 1`` before it (fewer at the start)."""
    sums = np.cumsum(np.insert(values, 0, 0.0))
    starts = np.maximum(np.arange(1, len(values) + 1) - window, 0)
    return (sums[1:] - sums[starts]) / (np.arange(1, len(values) + 1) - starts)


def plot_losses(losses, ax=None, *, label: str | None = None, smooth: int = 0,
                log: bool = False, xlabel: str = "step", ylabel: str = "loss",
                title: str | None = None):
    """Plot a list of losses (one per step or epoch) and return the ``Figure``.

    ``losses`` may also be a dict of such lists (``{'SGD': [...], 'Adam': [...]}``),
    one line each. ``smooth=k`` adds the moving average over ``k`` steps in front of
    the raw curve, which noisy mini-batch losses need; ``log=True`` uses a log scale
    for the loss, where a loss that falls by powers of ten shows as a straight line.

    >>> losses = []
    >>> for t in range(100):
    ...     loss = step(); losses.append(loss.item())
    >>> fig = plot_losses(losses, smooth=10)
    """
    plt = require_pyplot()
    if isinstance(losses, Mapping):
        series = {str(k): _values(v, f"plot_losses[{k!r}]") for k, v in losses.items()}
    else:
        series = {label or "loss": _values(losses, "plot_losses")}
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    for name, values in series.items():
        steps = np.arange(1, len(values) + 1)
        if smooth and smooth > 1:
            raw, = ax.plot(steps, values, alpha=0.3, linewidth=1)
            ax.plot(steps, moving_average(values, smooth), color=raw.get_color(),
                    label=f"{name} (mean of {smooth})")
        else:
            ax.plot(steps, values, label=name, marker="o" if len(values) <= 30 else None,
                    markersize=3)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.figure.tight_layout()
    return ax.figure


def metric_groups(names) -> dict:
    """``{'loss': ['loss', 'val_loss'], 'accuracy': [...]}``: each metric with its
    validation twin, loss first."""
    groups = {}
    for name in names:
        base = name[4:] if name.startswith("val_") else name
        groups.setdefault(base, []).append(name)
    if "loss" in groups:
        groups = {"loss": groups.pop("loss"), **groups}
    return groups


def plot_history(history, metrics=None, ax=None, epochs: Sequence | None = None):
    """Plot training curves from ``fit``'s history and return the ``Figure``.

    ``history`` maps names to per-epoch values (``History.history``, or the ``History``
    itself). Each metric gets its own axes, with its validation twin on the same axes:
    ``loss`` with ``val_loss``, ``accuracy`` with ``val_accuracy``. ``metrics`` picks
    some of them (``['loss']``); ``ax`` is one matplotlib Axes per metric plotted;
    ``epochs`` are the x values (1, 2, 3, ... by default).
    """
    plt = require_pyplot()
    record = getattr(history, "history", history)
    if not isinstance(record, Mapping):
        raise TypeError(f"plot_history: expected a History or a dict of per-epoch lists, got "
                        f"{type(history).__name__}")
    groups = metric_groups(record)
    if not groups:
        raise ValueError("plot_history: the history is empty; did fit() run for at least "
                         "one epoch?")
    if metrics is not None:
        wanted = [metrics] if isinstance(metrics, str) else list(metrics)
        unknown = [m for m in wanted if m not in groups]
        if unknown:
            raise ValueError(f"plot_history: no metric {unknown} in the history; it has "
                             f"{list(groups)}")
        groups = {m: groups[m] for m in wanted}
    if ax is None:
        _, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 3.6), squeeze=False)
        axes = list(axes[0])
    else:
        axes = list(ax) if isinstance(ax, (Sequence, np.ndarray)) else [ax]
        if len(axes) != len(groups):
            raise ValueError(f"plot_history: got {len(axes)} Axes for {len(groups)} metrics "
                             f"{list(groups)}; pass one Axes per metric, or choose metrics=")
    for axes_, (base, names) in zip(axes, groups.items()):
        for name in names:
            values = _values(record[name], f"plot_history[{name!r}]")
            xs = np.arange(1, len(values) + 1) if epochs is None else np.asarray(epochs)
            if len(xs) != len(values):
                xs = np.arange(1, len(values) + 1)  # validation run every few epochs
            axes_.plot(xs, values, label=name, marker="o" if len(values) <= 30 else None,
                       markersize=3, linestyle="--" if name.startswith("val_") else "-")
        axes_.set_title(base)
        axes_.set_xlabel("epoch")
        axes_.grid(True, alpha=0.3)
        axes_.legend()
    figure = axes[0].figure
    figure.tight_layout()
    return figure
