"""``model.summary()``: the table of layers, output shapes and parameter counts.

::

    Model: "sequential"
    ┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
    ┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
    ┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
    │ dense (Dense)                   │ (None, 64)             │         4,160 │
    ├─────────────────────────────────┼────────────────────────┼───────────────┤
    │ dense_1 (Dense)                 │ (None, 10)             │           650 │
    └─────────────────────────────────┴────────────────────────┴───────────────┘
     Total params: 4,810 (18.79 KB)
     Trainable params: 4,810 (18.79 KB)
     Non-trainable params: 0 (0.00 B)

A Dense layer from n inputs to m units has n * m kernel weights and m biases.
Layers not built yet (no input shape known) show ``?`` and ``0 (unbuilt)``.
"""
from __future__ import annotations

from .layers.layer import format_shape


def readable_size(n_bytes: int) -> str:
    size, unit = float(n_bytes), "B"
    for bigger in ("KB", "MB", "GB", "TB"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{size:.2f} {unit}"


def _box(widths, left, middle, right, fill) -> str:
    return left + middle.join(fill * w for w in widths) + right


def _row(cells, widths, aligns, bar) -> str:
    parts = []
    for cell, width, align in zip(cells, widths, aligns):
        text = f" {cell:>{width - 2}} " if align == ">" else f" {cell:<{width - 2}} "
        parts.append(text)
    return bar + bar.join(parts) + bar


def summary_lines(model, show_trainable: bool = False) -> list:
    rows = []
    for layer in model.layers:
        shape = format_shape(layer._output_shape) if layer.built and layer._output_shape \
            else "?"
        params = f"{layer.count_params():,}" if layer.built else "0 (unbuilt)"
        row = [f"{layer.name} ({type(layer).__name__})", shape, params]
        if show_trainable:
            row.append("Y" if layer.trainable else "N")
        rows.append(row)
    header = ["Layer (type)", "Output Shape", "Param #"] + (["Trainable"] if show_trainable
                                                            else [])
    minimum = [31, 22, 13, 9]
    widths = [max([minimum[i], len(header[i])] + [len(r[i]) for r in rows]) + 2
              for i in range(len(header))]
    aligns = ["<", "<", ">", "<"][:len(header)]
    lines = [f'Model: "{model.name}"',
             _box(widths, "┏", "┳", "┓", "━"),
             _row(header, widths, aligns, "┃"),
             _box(widths, "┡", "╇", "┩", "━")]
    for i, row in enumerate(rows):
        if i:
            lines.append(_box(widths, "├", "┼", "┤", "─"))
        lines.append(_row(row, widths, aligns, "│"))
    lines.append(_box(widths, "└", "┴", "┘", "─"))
    trainable = sum(p.numel() for p in model.trainable_weights)
    frozen = sum(p.numel() for p in model.non_trainable_weights)
    itemsize = model.weights[0].dtype.itemsize if model.weights else 4
    for label, count in (("Total", trainable + frozen), ("Trainable", trainable),
                         ("Non-trainable", frozen)):
        lines.append(f" {label} params: {count:,} ({readable_size(count * itemsize)})")
    return lines
