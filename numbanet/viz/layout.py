"""A layered drawing of a directed acyclic graph, in the manner of Graphviz's ``dot``.

Four steps, each simple:

1. **Layers.** A vertex's layer is its longest distance from the graph's sinks (the
   results), so every edge points down, and the inputs of an op sit above it.
2. **Dummies.** An edge that spans several layers gets an invisible vertex in every
   layer it crosses; it is then routed through them like any other edge.
3. **Order.** Each layer is sorted by the mean position of its neighbours in the layer
   above (then below), a few times over; the order with the fewest edge crossings wins.
4. **Coordinates.** Each vertex moves as close as it can to the mean x of its
   neighbours, keeping the order and a gap between boxes.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass

SWEEPS = 6          # rounds of reordering (down then up)
PLACEMENT_PASSES = 8


@dataclass
class Layout:
    """Where each vertex goes (centre x, centre y) and the points each edge runs through."""
    centers: dict       # vertex -> (x, y)
    routes: list        # one list of (x, y) per edge, from source to target
    width: float
    height: float


def _layers(vertices: list, edges: list) -> dict:
    """Longest-path layering: sinks get 0, every other vertex 1 + the most of its targets."""
    targets = {v: [] for v in vertices}
    waiting = {v: 0 for v in vertices}  # targets not yet layered
    for s, t in edges:
        targets[s].append(t)
        waiting[s] += 1
    sources = {v: [] for v in vertices}
    for s, t in edges:
        sources[t].append(s)
    depth = {}
    ready = [v for v in vertices if waiting[v] == 0]
    while ready:
        v = ready.pop()
        depth[v] = max((depth[t] + 1 for t in targets[v]), default=0)
        for s in sources[v]:
            waiting[s] -= 1
            if waiting[s] == 0:
                ready.append(s)
    if len(depth) != len(vertices):
        raise ValueError("the graph has a cycle; only acyclic graphs can be layered")
    return depth


def _crossings(order: list, down: dict) -> int:
    """Edge crossings between each layer and the next (``down``: vertex -> lower neighbours).

    Two edges cross when their upper ends and their lower ends come in opposite orders:
    with the edges sorted by upper end, that is an inversion among the lower ends."""
    total = 0
    for upper, lower in zip(order, order[1:]):
        pos = {v: i for i, v in enumerate(lower)}
        ends = sorted((i, pos[w]) for i, v in enumerate(upper) for w in down[v])
        seen = []
        for _, end in ends:
            total += len(seen) - bisect.bisect_right(seen, end)
            bisect.insort(seen, end)
    return total


def _reorder(order: list, neighbours: dict, rows) -> None:
    """Sort each layer in ``rows`` by the mean position of its neighbours in the layer just
    visited; a vertex without such neighbours keeps its place."""
    for r_prev, r in rows:
        pos = {v: i for i, v in enumerate(order[r_prev])}
        keys = []
        for i, v in enumerate(order[r]):
            near = [pos[w] for w in neighbours[v] if w in pos]
            keys.append(sum(near) / len(near) if near else float(i))
        order[r] = [v for _, _, v in sorted(zip(keys, range(len(keys)), order[r]))]


def _pack(desired: list, widths: list, gap: float) -> list:
    """Centres as close as possible (least squares) to ``desired``, in the same order and
    with at least ``gap`` between neighbouring boxes of ``widths``.

    With ``tight[k]``, the centre of box k when all boxes are packed side by side from 0,
    the boxes keep apart exactly when ``x[k] - tight[k]`` never decreases. So this is
    isotonic regression of ``desired[k] - tight[k]``, solved by pooling adjacent
    violators: a box that would overlap its left neighbour joins its block, and a
    block sits at the mean of what its members want.
    """
    tight = [0.0]
    for left, right in zip(widths, widths[1:]):
        tight.append(tight[-1] + (left + right) / 2 + gap)
    blocks = []  # [sum of (desired - tight) over the block, number of boxes]
    for want, t in zip(desired, tight):
        blocks.append([want - t, 1])
        while len(blocks) > 1 and blocks[-2][0] * blocks[-1][1] > blocks[-1][0] * blocks[-2][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    xs = []
    for total, count in blocks:
        xs.extend([total / count] * count)
    return [x + t for x, t in zip(xs, tight)]


def layered_layout(sizes: dict, edges: list, hgap: float = 24.0, vgap: float = 40.0,
                   margin: float = 12.0) -> Layout:
    """Lay out the graph with vertex ``sizes`` (vertex -> (width, height), in the order
    vertices should come when nothing else decides) and ``edges`` ((source, target)
    pairs; sources are drawn above their targets)."""
    vertices = list(sizes)
    depth = _layers(vertices, edges)
    top = max(depth.values(), default=0)
    row = {v: top - depth[v] for v in vertices}  # row 0 at the top: the inputs

    # Split long edges into one-layer steps through dummy vertices.
    chains = []
    down = {v: [] for v in vertices}
    up = {v: [] for v in vertices}
    width = {v: sizes[v][0] for v in vertices}
    for k, (s, t) in enumerate(edges):
        chain = [s] + [("dummy", k, r) for r in range(row[s] + 1, row[t])] + [t]
        for r, v in enumerate(chain[1:-1], start=row[s] + 1):
            row[v], width[v], down[v], up[v] = r, 0.0, [], []
        for a, b in zip(chain, chain[1:]):
            down[a].append(b)
            up[b].append(a)
        chains.append(chain)

    # First order: as met by a depth-first walk up from the results, each vertex's inputs
    # in the order of its edges (an op's first operand on the left).
    order = [[] for _ in range(top + 1)]
    seen = set()
    stack = [v for v in reversed(vertices) if not down[v]]
    while stack:
        v = stack.pop()
        if v not in seen:
            seen.add(v)
            order[row[v]].append(v)
            stack.extend(reversed(up[v]))

    best, fewest = [list(r) for r in order], _crossings(order, down)
    for _ in range(SWEEPS):
        if fewest == 0:
            break
        _reorder(order, up, [(r - 1, r) for r in range(1, len(order))])
        _reorder(order, down, [(r + 1, r) for r in range(len(order) - 2, -1, -1)])
        crossings = _crossings(order, down)
        if crossings < fewest:
            best, fewest = [list(r) for r in order], crossings
    order = best

    x = {}
    for layer in order:
        x.update(zip(layer, _pack([0.0] * len(layer), [width[v] for v in layer], hgap)))
    widths = [[width[v] for v in layer] for layer in order]
    for _ in range(PLACEMENT_PASSES):
        moved = 0.0
        for rows, near in ((range(1, len(order)), up), (range(len(order) - 2, -1, -1), down)):
            for r in rows:
                layer = order[r]
                desired = [sum(x[w] for w in near[v]) / len(near[v]) if near[v] else x[v]
                           for v in layer]
                for v, new in zip(layer, _pack(desired, widths[r], hgap)):
                    moved = max(moved, abs(new - x[v]))
                    x[v] = new
        if moved < 0.5:  # settled (to half a pixel)
            break

    left = min(x[v] - width[v] / 2 for v in x)
    right = max(x[v] + width[v] / 2 for v in x)
    heights = [max((sizes[v][1] for v in layer if v in sizes), default=0.0) for layer in order]
    y, cursor = {}, margin
    for layer, h in zip(order, heights):
        for v in layer:
            y[v] = cursor + h / 2
        cursor += h + vgap
    shift = margin - left
    centers = {v: (x[v] + shift, y[v]) for v in vertices}

    routes = []
    for chain in chains:
        s, t = chain[0], chain[-1]
        points = [(x[s] + shift, y[s] + sizes[s][1] / 2)]
        points += [(x[d] + shift, y[d]) for d in chain[1:-1]]
        points.append((x[t] + shift, y[t] - sizes[t][1] / 2))
        routes.append(points)
    return Layout(centers, routes, right - left + 2 * margin, cursor - vgap + margin)
