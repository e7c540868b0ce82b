"""``draw_graph``: a picture of the computational graph behind a tensor, as SVG.

::

    import numbanet as nb
    from numbanet.viz import draw_graph

    x = nb.randn(3, 4, requires_grad=True)
    w = nb.randn(4, 2, requires_grad=True)
    loss = (x @ w).relu().sum()
    draw_graph(loss, params={"x": x, "w": w})   # shown inline in Jupyter
    loss.backward()
    draw_graph(loss, params={"x": x, "w": w}).save("graph.svg")   # now with gradients

Boxes, from top to bottom in the order the forward pass ran:

- blue: leaf tensors that require grad (their name from ``params``, shape, dtype,
  and after ``backward`` the norm of their ``.grad``);
- grey, rounded: the ops, by the name of their backward node (``MulBackward``) and
  the shape of what they computed;
- green: the result(s) you asked about.

The drawing is plain SVG made here in Python: no Graphviz needed.
"""
from __future__ import annotations

import itertools
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from ..fileio import write_atomically
from .graph import LEAF, OP, OUTPUT, Graph, Vertex, trace
from .layout import layered_layout

FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
TITLE_SIZE, DETAIL_SIZE, LINE = 12, 11, 15
CHAR = 0.61       # width of a monospace character, in font sizes
PAD_X, PAD_Y = 9, 6
STYLE = {  # kind -> (fill, stroke, corner radius)
    OUTPUT: ("#d8f0c8", "#4f8a2e", 2),
    OP: ("#ececec", "#7a7a7a", 9),
    LEAF: ("#d6e9fb", "#3d7fc1", 2),
}
NO_GRAD_STYLE = ("#f7f7f7", "#9a9a9a", 2)
GRAD_COLOUR = "#b34d00"
_ids = itertools.count()


class GraphDrawing:
    """A drawn graph: Jupyter shows it inline (``_repr_svg_``); ``.svg`` is the SVG text,
    ``.save(path)`` writes it to a file, ``.graph`` holds the vertices and edges."""

    def __init__(self, svg: str, graph: Graph):
        self.svg = svg
        self.graph = graph

    def _repr_svg_(self) -> str:
        return self.svg

    def save(self, path) -> Path:
        """Write the SVG to ``path`` (open it in a browser); returns the path."""
        path = Path(path)
        data = self.svg.encode("utf-8")
        write_atomically(path, lambda f: f.write(data), "GraphDrawing.save")
        return path

    def __repr__(self) -> str:
        g = self.graph
        ops, leaves, edges = g.count(OP), g.count(LEAF), len(g.edges)
        return (f"<GraphDrawing: {ops} op{'s' * (ops != 1)}, {leaves} "
                f"lea{'ves' if leaves != 1 else 'f'}, {edges} edge{'s' * (edges != 1)}: "
                "shown as SVG in Jupyter, or .save('graph.svg')>")


def _box_size(v: Vertex) -> tuple[float, float]:
    chars = max([len(v.title) * TITLE_SIZE] + [len(d) * DETAIL_SIZE for d in v.details])
    return chars * CHAR + 2 * PAD_X, LINE * (1 + len(v.details)) + 2 * PAD_Y


def _text(x: float, y: float, content: str, size: int, anchor: str = "middle",
          **attrs) -> str:
    extra = "".join(f" {k.replace('_', '-')}={quoteattr(str(a))}" for k, a in attrs.items())
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{extra}>'
            f"{escape(content)}</text>")


def _vertex_svg(v: Vertex, cx: float, cy: float, w: float, h: float) -> list[str]:
    fill, stroke, radius = STYLE[v.kind] if v.requires_grad or v.kind != LEAF \
        else NO_GRAD_STYLE
    tooltip = escape("\n".join([v.title] + v.details))
    out = [f'<g class="{v.kind}"><title>{tooltip}</title>',
           f'<rect x="{cx - w / 2:.1f}" y="{cy - h / 2:.1f}" width="{w:.1f}" height="{h:.1f}" '
           f'rx="{radius}" fill="{fill}" stroke="{stroke}" stroke-width="1.2"/>']
    baseline = cy - h / 2 + PAD_Y + LINE - 3.5
    out.append(_text(cx, baseline, v.title, TITLE_SIZE, font_weight="bold"))
    for line in v.details:
        baseline += LINE
        colour = GRAD_COLOUR if line.startswith("grad:") else "#333333"
        out.append(_text(cx, baseline, line, DETAIL_SIZE, fill=colour))
    out.append("</g>")
    return out


def _edge_path(points: list) -> str:
    """A smooth curve through ``points``: vertical tangents at each point."""
    (x0, y0), rest = points[0], points[1:]
    d = [f"M{x0:.1f},{y0:.1f}"]
    for x1, y1 in rest:
        mid = (y1 - y0) / 2
        d.append(f"C{x0:.1f},{y0 + mid:.1f} {x1:.1f},{y1 - mid:.1f} {x1:.1f},{y1:.1f}")
        x0, y0 = x1, y1
    return " ".join(d)


def render_svg(graph: Graph) -> str:
    """The SVG text of ``graph``, laid out in layers from the inputs down to the results."""
    sizes = {key: _box_size(v) for key, v in graph.vertices.items()}
    layout = layered_layout(sizes, [(e.source, e.target) for e in graph.edges])
    arrow = f"nbviz-arrow-{next(_ids)}"  # unique, as several drawings can share one page
    w, h = layout.width, layout.height
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h:.0f}" '
           f'viewBox="0 0 {w:.0f} {h:.0f}" font-family={quoteattr(FONT)}>',
           f'<defs><marker id="{arrow}" viewBox="0 0 10 10" refX="9" refY="5" '
           'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
           '<path d="M0,0 L10,5 L0,10 z" fill="#555555"/></marker></defs>',
           f'<rect width="{w:.0f}" height="{h:.0f}" fill="white"/>']
    for edge, points in zip(graph.edges, layout.routes):
        out.append(f'<path d="{_edge_path(points)}" fill="none" stroke="#555555" '
                   f'stroke-width="1.2" marker-end="url(#{arrow})"/>')
        if edge.label:
            (xa, ya), (xb, yb) = points[-2], points[-1]
            out.append(_text((xa + xb) / 2 + 6, (ya + yb) / 2 + 4, edge.label, DETAIL_SIZE,
                             anchor="start", fill="#555555"))
    for key, v in graph.vertices.items():
        (cx, cy), (bw, bh) = layout.centers[key], sizes[key]
        out.extend(_vertex_svg(v, cx, cy, bw, bh))
    out.append("</svg>")
    return "\n".join(out)


def draw_graph(tensor, params=None) -> GraphDrawing:
    """Draw the computational graph behind ``tensor`` (or a list of tensors).

    ``params`` names tensors in the drawing: a dict ``{name: tensor}`` or
    ``model.named_parameters()``. A named leaf shows its name; a named result of an op
    (``params={'h': h}``) labels the op that computed it.

    Works before and after ``backward`` (even when backward has freed the graph's saved
    tensors): afterwards, each leaf also shows the norm of its ``.grad``.

    >>> x = nb.randn(3, 4, requires_grad=True)
    >>> drawing = draw_graph((x * x).sum(), params={"x": x})
    >>> drawing
    <GraphDrawing: 2 ops, 1 leaf, 3 edges: shown as SVG in Jupyter, or .save('graph.svg')>
    """
    graph = trace(tensor, params)
    return GraphDrawing(render_svg(graph), graph)
