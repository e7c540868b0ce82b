"""The TensorFlow 1 graph: a default graph that ops are added to, ``as_default``,
``reset_default_graph``, and the ``device`` context manager."""
from __future__ import annotations

import contextlib
import re

from ..device import as_device
from ..graph.recorder import Recorder


class Graph:
    """A graph under construction: the IR (``numbanet.graph.ir.Graph``), the recorder whose
    device records into it, and the TensorFlow-level bookkeeping (names, variables).

    >>> g = tf.Graph()
    >>> with g.as_default():
    ...     x = tf.placeholder(tf.float32, shape=(2,))
    """

    def __init__(self):
        self._recorder = Recorder(purpose="a static graph is being built (only Session.run "
                                          "computes values)")
        self._ir = self._recorder.graph
        self._variables = []
        self._trainable = []
        self._by_name: dict = {}
        self._devices = []  # devices asked for with tf.device(...), in order

    @property
    def ir(self):
        """The graph's nodes (``numbanet.graph.ir.Graph``)."""
        return self._ir

    def unique_name(self, base: str) -> str:
        return self._ir.unique_name(base)

    def _register(self, name: str, item):
        self._by_name[name] = item

    def get_tensor_by_name(self, name: str):
        """The tensor called ``name`` (``'MatMul:0'``)."""
        item = self._by_name.get(name)
        if item is None or not name.endswith(":0"):
            known = ", ".join(sorted(k for k in self._by_name if k.endswith(":0"))[:12])
            raise KeyError(f"the graph has no tensor named {name!r}; tensor names end in ':0' "
                           f"(some names in this graph: {known})")
        return item

    def get_operation_by_name(self, name: str):
        item = self._by_name.get(name)
        if item is None:
            raise KeyError(f"the graph has no operation named {name!r}")
        return item

    @contextlib.contextmanager
    def as_default(self):
        """Make this graph the one new ops are added to, inside a ``with`` block."""
        _stack.append(self)
        try:
            yield self
        finally:
            _stack.pop()

    def device(self, spec):
        return device(spec, graph=self)

    def requested_device(self):
        """The device the graph asked for with ``tf.device``: a GPU if any op asked for one
        (a graph runs on one device), else the CPU."""
        for d in self._devices:
            if d.type == "cuda":
                return d
        return as_device("cpu")

    def __repr__(self) -> str:
        return f"<numbanet.static.Graph with {len(self._ir.nodes)} nodes>"


_default = [Graph()]
_stack: list = []


def get_default_graph() -> Graph:
    """The graph new ops go to: the innermost ``as_default()`` graph, else the global one."""
    return _stack[-1] if _stack else _default[0]


def reset_default_graph():
    """Start a new, empty global default graph (``tf.reset_default_graph()``)."""
    if _stack:
        raise RuntimeError("reset_default_graph() cannot be called inside a "
                           "`with graph.as_default():` block")
    _default[0] = Graph()


_DEVICE_RE = re.compile(r"(?:^|/)(?:device:)?(cpu|gpu|cuda)(?::(\d+))?$", re.IGNORECASE)


def parse_device(spec) -> object:
    """``'/gpu:0'``, ``'/device:GPU:1'``, ``'/cpu:0'``, ``'cuda'`` -> a numbanet device."""
    if not isinstance(spec, str):
        return as_device(spec)
    match = _DEVICE_RE.search(spec.strip())
    if not match:
        raise ValueError(f"unknown device {spec!r}: expected a TensorFlow device such as "
                         "'/cpu:0' or '/gpu:0' (or a numbanet one: 'cpu', 'cuda:0')")
    kind, index = match.group(1).lower(), int(match.group(2) or 0)
    return as_device("cpu") if kind == "cpu" else as_device(f"cuda:{index}")


@contextlib.contextmanager
def device(spec, graph: Graph | None = None):
    """``with tf.device('/gpu:0'):`` — run the graph on that device.

    numbanet runs a whole graph on one device: a Session uses the GPU if any part of
    its graph was built under a GPU device (the data set stays on the host until it is
    fed, and the variables live on the GPU between runs), else the CPU. Pass
    ``Session(device=...)`` to choose explicitly."""
    g = graph or get_default_graph()
    g._devices.append(parse_device(spec))
    yield
