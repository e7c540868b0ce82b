"""Teaching aids: pictures of what numbanet computes.

- ``draw_graph(tensor)``: the computational graph behind a tensor, as SVG (inline in
  Jupyter; no Graphviz needed).
- ``plot_losses(losses)``, ``plot_history(history)`` (and ``History.plot()`` in
  ``numbanet.keras``): training curves with matplotlib.
- ``confusion_matrix(y_true, y_pred)`` and ``plot_confusion_matrix(matrix)``.

The plots need matplotlib, which is optional: ``pip install "numbanet[notebooks]"``.
It is imported when a plot is drawn, not when ``numbanet.viz`` is imported.
"""
from .confusion import confusion_matrix, plot_confusion_matrix
from .draw import GraphDrawing, draw_graph
from .plots import plot_history, plot_losses

__all__ = ["GraphDrawing", "confusion_matrix", "draw_graph", "plot_confusion_matrix",
           "plot_history", "plot_losses"]
