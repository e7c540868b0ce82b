"""``viz.draw_graph``: a valid SVG picture of the graph that backward walks, with every op
and leaf on it, before and after backward; and the layered layout underneath it."""
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import numbanet as nb
from numbanet.autograd import Function
from numbanet.viz import GraphDrawing, draw_graph
from numbanet.viz.layout import _pack, layered_layout

SVG = "{http://www.w3.org/2000/svg}"


def parse(drawing: GraphDrawing) -> ET.Element:
    root = ET.fromstring(drawing.svg)
    assert root.tag == SVG + "svg"
    return root


def texts(drawing: GraphDrawing) -> list[str]:
    return [t.text for t in parse(drawing).iter(SVG + "text")]


def boxes(drawing: GraphDrawing) -> dict:
    """The title of each box -> its <rect>."""
    out = {}
    for group in parse(drawing).iter(SVG + "g"):
        title = group.find(SVG + "text").text
        out.setdefault(title, []).append(group.find(SVG + "rect"))
    return out


def seed_graph():
    """The lecture's NumPy example: c = sum(x * y + z)."""
    np.random.seed(0)
    x, y, z = (nb.tensor(np.random.randn(3, 4), requires_grad=True) for _ in range(3))
    a = x * y
    b = a + z
    c = b.sum()
    return (x, y, z, a, b), c


def test_svg_parses_and_names_every_op_and_leaf():
    (x, y, z, a, b), c = seed_graph()
    drawing = draw_graph(c, params={"x": x, "y": y, "z": z})
    words = texts(drawing)
    for op in ("MulBackward", "AddBackward", "SumBackward"):
        assert words.count(op) == 1
    for leaf in ("x", "y", "z"):
        assert words.count(leaf) == 1
    assert words.count("(3, 4) float64") == 3 and "requires_grad" in words
    assert not any(w.startswith("grad:") for w in words)  # no backward yet
    assert drawing._repr_svg_() == drawing.svg
    assert repr(drawing).startswith("<GraphDrawing: 3 ops, 3 leaves, 6 edges")


def test_after_backward_leaves_show_their_gradient_norms():
    (x, y, z, a, b), c = seed_graph()
    c.backward()  # frees the saved tensors: the graph's structure must still be there
    words = texts(draw_graph(c, params={"x": x, "y": y, "z": z}))
    for t in (x, y, z):
        assert f"grad: norm {np.linalg.norm(t.grad.numpy()):.4g}" in words
    assert {"MulBackward", "AddBackward", "SumBackward"} <= set(words)


def test_the_seed_mlp_draws_the_same_before_and_after_backward():
    nb.manual_seed(0)
    x, y = nb.randn(8, 5), nb.randn(8, 3)  # no grad: not recorded, not drawn
    w1 = nb.randn(5, 4, requires_grad=True)
    w2 = nb.randn(4, 3, requires_grad=True)
    loss = (x.mm(w1).clamp(min=0).mm(w2) - y).pow(2).sum()
    before = draw_graph(loss, params={"w1": w1, "w2": w2})
    loss.backward()
    after = draw_graph(loss, params={"w1": w1, "w2": w2})
    ops = [w for w in texts(before) if w.endswith("Backward")]
    assert ops == [w for w in texts(after) if w.endswith("Backward")]
    assert sorted(ops) == sorted(["MatMulBackward", "ClampBackward", "MatMulBackward",
                                  "SubBackward", "PowBackward", "SumBackward"])
    assert before.graph.count("leaf") == 2  # w1 and w2; x and y are not in the graph
    assert sum(w.startswith("grad: norm") for w in texts(after)) == 2


def test_a_shared_subexpression_is_drawn_once_with_an_edge_to_each_use():
    u = nb.randn(3, requires_grad=True)
    h = u.exp()
    out = (h * 2 + h.tanh() * u).sum()  # h feeds two ops; u feeds two ops (a diamond)
    drawing = draw_graph(out, params={"u": u, "h": h})
    words = texts(drawing)
    assert words.count("ExpBackward") == 1 and words.count("u") == 1
    assert "h (3,)" in words  # the named result labels the op that computed it
    edges = [p for p in parse(drawing).iter(SVG + "path") if p.get("marker-end")]
    assert len(edges) == len(drawing.graph.edges) == 9


def test_an_input_used_twice_by_one_op_gets_one_edge_marked_x2():
    x = nb.randn(2, 2, requires_grad=True)
    drawing = draw_graph((x * x).sum(), params={"x": x})
    assert "×2" in texts(drawing)
    assert len(drawing.graph.edges) == 3


class SplitInTwo(Function):
    """Two outputs from one op: (2x, 3x)."""

    @staticmethod
    def forward(ctx, x):
        return x * 2, x * 3

    @staticmethod
    def backward(ctx, g2, g3):
        return g2 * 2 + g3 * 3


def test_multiple_outputs_of_an_op_and_several_results():
    x = nb.randn(4, requires_grad=True)
    two, three = SplitInTwo.apply(x)
    total = two + three
    drawing = draw_graph([total.sum(), three.mean()], params={"x": x})
    words = texts(drawing)
    assert words.count("SplitInTwoBackward") == 1
    assert "[0]" in words and "[1]" in words  # which output each edge carries
    assert words.count("output") == 2
    assert words.count("(4,)") >= 2  # the node lists the shape of each of its outputs


def test_a_leaf_alone_is_one_box():
    x = nb.randn(2, 3)
    drawing = draw_graph(x)
    assert drawing.graph.count("op") == 0 and len(drawing.graph.edges) == 0
    assert "(2, 3) float32" in texts(drawing)


def test_names_are_escaped_as_xml():
    w = nb.randn(2, requires_grad=True)
    drawing = draw_graph((w * 3).sum(), params={"<w & b>": w})
    assert "<w & b>" in texts(drawing)  # parsed back from &lt;w &amp; b&gt;


def test_bad_arguments_say_what_was_expected():
    with pytest.raises(TypeError, match="expects a Tensor or a list of Tensors, got ndarray"):
        draw_graph(np.zeros(3))
    with pytest.raises(TypeError, match=r"got \[Tensor, int\]"):
        draw_graph([nb.zeros(2), 3])
    with pytest.raises(TypeError, match=r"params\['w'\] should be a Tensor"):
        draw_graph(nb.randn(2, requires_grad=True).sum(), params={"w": 1.0})


def test_save_writes_the_svg(tmp_path):
    x = nb.randn(2, requires_grad=True)
    drawing = draw_graph(x.exp().sum())
    path = drawing.save(tmp_path / "graph.svg")
    assert path.read_text(encoding="utf-8") == drawing.svg


def test_a_graph_of_hundreds_of_ops_is_drawn_quickly():
    t = nb.randn(4, requires_grad=True)
    v = t
    for i in range(200):  # a chain, with the leaf fed back in every 10th op
        v = v * 1.01 + t if i % 10 == 0 else v.tanh()
    start = time.perf_counter()
    drawing = draw_graph(v.sum())
    assert time.perf_counter() - start < 2.0
    assert drawing.graph.count("op") == 221  # 20 x (mul, add) + 180 tanh + the sum
    assert len(list(parse(drawing).iter(SVG + "rect"))) == 1 + 221 + 2  # background + boxes


def test_boxes_do_not_overlap_and_edges_point_down():
    (x, y, z, a, b), c = seed_graph()
    drawing = draw_graph(c)
    rects = [r for group in boxes(drawing).values() for r in group]
    spans = [(float(r.get("x")), float(r.get("y")), float(r.get("width")),
              float(r.get("height"))) for r in rects]
    for i, (x1, y1, w1, h1) in enumerate(spans):
        for x2, y2, w2, h2 in spans[i + 1:]:
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1


@pytest.mark.cuda
def test_cuda_tensors_are_drawn_with_their_device():
    if not nb.cuda.is_available():
        pytest.skip("no CUDA device and no simulator")
    x = nb.tensor([[1.0, 2.0], [3.0, 4.0]], device="cuda", requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    words = texts(draw_graph(loss, params={"x": x}))
    assert "(2, 2) float32 cuda:0" in words
    assert any(w.startswith("grad: norm") for w in words)


# ---- the layout itself ----------------------------------------------------------------------

@st.composite
def dags(draw):
    """Random DAGs: vertex i may feed any vertex j > i."""
    n = draw(st.integers(1, 14))
    edges = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1))
                          .filter(lambda e: e[0] < e[1]), max_size=30, unique=True))
    widths = draw(st.lists(st.floats(10, 120), min_size=n, max_size=n))
    return {i: (w, 30.0) for i, w in enumerate(widths)}, edges


@given(dags())
def test_layout_keeps_boxes_apart_puts_sources_above_and_routes_every_edge(graph):
    sizes, edges = graph
    layout = layered_layout(sizes, edges, hgap=10)
    assert set(layout.centers) == set(sizes)
    for s, t in edges:  # every edge points down
        assert layout.centers[s][1] < layout.centers[t][1]
    rows = {}
    for v, (cx, cy) in layout.centers.items():
        rows.setdefault(cy, []).append((cx - sizes[v][0] / 2, cx + sizes[v][0] / 2))
    for spans in rows.values():  # boxes in a row keep at least the gap between them
        spans.sort()
        for (_, right), (left, _) in zip(spans, spans[1:]):
            assert left - right >= 10 - 1e-6
    for v, (cx, _cy) in layout.centers.items():  # everything inside the picture
        assert 0 <= cx - sizes[v][0] / 2 and cx + sizes[v][0] / 2 <= layout.width + 1e-6
    assert len(layout.routes) == len(edges)
    for (s, t), route in zip(edges, layout.routes):
        assert route[0][0] == pytest.approx(layout.centers[s][0])
        assert route[-1][0] == pytest.approx(layout.centers[t][0])
        assert all(a[1] < b[1] for a, b in zip(route, route[1:]))


@given(st.lists(st.floats(-500, 500), min_size=1, max_size=20), st.data())
def test_pack_keeps_order_and_gaps_and_leaves_well_spaced_boxes_where_they_want(desired, data):
    widths = data.draw(st.lists(st.floats(0, 50), min_size=len(desired), max_size=len(desired)))
    xs = _pack(desired, widths, 5.0)
    for k in range(1, len(xs)):
        assert xs[k] - xs[k - 1] >= (widths[k] + widths[k - 1]) / 2 + 5.0 - 1e-6
    spaced = [100.0 * k for k in range(len(desired))]
    assert _pack(spaced, [10.0] * len(desired), 5.0) == pytest.approx(spaced)
