"""``Session``: where a static graph runs, and where its variables live.

``sess.run(fetches, feed_dict)`` compiles the part of the graph that the fetches
need into a :class:`numbanet.graph.Plan` (once per distinct set of fetches and
feeds), copies the fed values to the device, runs the plan and copies the
fetched values back as NumPy arrays. The variables stay on the Session's device
from run to run, so a training loop moves only its data, never its weights
(the problem the seed lecture points out in its first TensorFlow program,
which feeds the weights in and fetches them back at every step).
"""
from __future__ import annotations

import numpy as np

from ..graph.executor import Plan, to_device_array, to_host_arrays
from ..graph.ir import Value
from ..tensor import Tensor as _NbTensor
from .graph import get_default_graph, parse_device
from .tensor import Operation, Tensor

_sessions: list = []


class Session:
    """Runs ops of ``graph`` (the default graph) on ``device``.

    ``device`` defaults to the one the graph asked for with ``tf.device`` (a GPU if
    any), else the CPU. Use it as a context manager, as the seed does::

        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            loss_val, _ = sess.run([loss, updates], feed_dict={x: xv, y: yv})

    ``optimize=False`` runs the graph without constant folding and kernel fusion."""

    def __init__(self, target: str = "", graph=None, config=None, device=None,
                 optimize: bool = True):
        self.graph = graph if graph is not None else get_default_graph()
        self.device = parse_device(device) if device is not None else \
            self.graph.requested_device()
        self.optimize = optimize
        self._variables: dict = {}
        self._plans: dict = {}
        self._closed = False

    # ---- context manager ------------------------------------------------------------------
    def __enter__(self):
        _sessions.append(self)
        return self

    def __exit__(self, *exc):
        if _sessions and _sessions[-1] is self:
            _sessions.pop()
        self.close()
        return False

    def as_default(self):
        return _AsDefault(self)

    def close(self):
        """Free the variables' memory; the session cannot run afterwards."""
        self._closed = True
        self._variables.clear()
        self._plans.clear()

    # ---- run ---------------------------------------------------------------------------
    def run(self, fetches, feed_dict=None, options=None, run_metadata=None):
        """Compute ``fetches``, a tensor, an operation, or a list/tuple/dict (nested) of
        them, with the placeholders set from ``feed_dict``. Tensors come back as NumPy
        arrays (0-d ones as NumPy scalars), operations as None, in the same structure."""
        if self._closed:
            raise RuntimeError("attempted to use a closed Session; run inside the `with "
                               "tf.Session() as sess:` block or make a new Session")
        items = []
        structure = self._flatten(fetches, items)
        values = [x._value for x in items if isinstance(x, Tensor)]
        targets = [x._value.node for x in items if isinstance(x, Operation)]
        key = (tuple(id(v) for v in values), tuple(id(n) for n in targets))
        plan = self._plans.get(key)
        if plan is None:
            plan = Plan(self.graph.ir, values, targets, self.device, optimize=self.optimize)
            self._plans[key] = plan
        feeds = self._feeds(feed_dict, plan)
        arrays = plan.run(feeds, self._variables,
                          describe_missing=lambda name: self._missing(name, items))
        results = iter(to_host_arrays(self.device, arrays))
        out = []
        for x in items:
            if isinstance(x, Operation):
                out.append(None)
                continue
            a = next(results)
            out.append(a[()] if a.ndim == 0 else a)
        return structure(iter(out))

    def _flatten(self, fetches, items):
        """Collect the fetchable leaves of ``fetches``; return a function rebuilding the
        structure from an iterator over their results."""
        if isinstance(fetches, (Tensor, Operation)):
            if fetches.graph is not self.graph:
                raise ValueError(f"fetch '{fetches.name}' belongs to another graph than this "
                                 "Session's: make the Session inside the graph's `with "
                                 "graph.as_default():` block or pass Session(graph=graph)")
            items.append(fetches)
            return lambda it: next(it)
        if isinstance(fetches, str):
            return self._flatten(self._lookup(fetches), items)
        if isinstance(fetches, dict):
            keys = list(fetches)
            parts = [self._flatten(fetches[k], items) for k in keys]
            return lambda it: {k: p(it) for k, p in zip(keys, parts)}
        if isinstance(fetches, (list, tuple)):
            parts = [self._flatten(f, items) for f in fetches]
            if isinstance(fetches, tuple) and hasattr(fetches, "_fields"):  # namedtuple
                return lambda it: type(fetches)(*[p(it) for p in parts])
            kind = type(fetches) if isinstance(fetches, tuple) else list
            return lambda it: kind(p(it) for p in parts)
        if fetches is None:
            raise TypeError("Session.run: None is not a fetch; pass a tensor, an operation or "
                            "a list of them")
        raise TypeError(f"Session.run: cannot fetch a {type(fetches).__name__}; fetch graph "
                        "tensors (e.g. loss), operations (e.g. an optimizer's minimize()) or "
                        "lists, tuples and dicts of them")

    def _lookup(self, name: str):
        if ":" in name:
            return self.graph.get_tensor_by_name(name)
        return self.graph.get_operation_by_name(name)

    def _feeds(self, feed_dict, plan: Plan) -> dict:
        feeds = {}
        if not feed_dict:
            return feeds
        for key, value in feed_dict.items():
            if isinstance(key, str):
                key = self.graph.get_tensor_by_name(key if ":" in key else key + ":0")
            if not isinstance(key, Tensor):
                raise TypeError(f"feed_dict keys must be placeholders, got a "
                                f"{type(key).__name__}")
            if key.graph is not self.graph:
                raise ValueError(f"feed_dict: placeholder '{key.name}' belongs to another graph "
                                 "than this Session's")
            node = key._value.node
            if node.op != "placeholder":
                raise TypeError(f"feed_dict: '{key.name}' is not a placeholder; only "
                                "tf.placeholder tensors can be fed")
            name = node.attrs["name"]
            if name not in plan.feed_slots:
                continue  # fed but not needed by these fetches (TensorFlow allows it)
            feeds[name] = self._convert_feed(key, value)
        return feeds

    def _convert_feed(self, ph: Tensor, value):
        target = ph.dtype
        if isinstance(value, _NbTensor):
            src_dtype, shape = value.dtype.numpy, value.shape
        else:
            value = np.asarray(value)
            src_dtype, shape = value.dtype, value.shape
        if src_dtype == np.dtype(object) or src_dtype.kind not in "biuf":
            raise TypeError(f"cannot feed a value of dtype {src_dtype} to placeholder "
                            f"'{ph.name}' of dtype {target.name}: feed numbers")
        if not np.can_cast(src_dtype, target.numpy, casting="same_kind"):
            raise TypeError(f"cannot feed a value of dtype {np.dtype(src_dtype).name} to "
                            f"placeholder '{ph.name}' of dtype {target.name}: the conversion "
                            f"would lose information; convert it yourself first "
                            f"(value.astype(np.{target.numpy.name}))")
        if tuple(shape) != ph.shape:
            raise ValueError(f"cannot feed a value of shape {tuple(shape)} to placeholder "
                             f"'{ph.name}', which has shape {tuple(ph.shape)}")
        return to_device_array(self.device, value, ph.shape, target)

    def _missing(self, name: str, items) -> str:
        ph = self.graph.get_tensor_by_name(f"{name}:0")
        needing = [x.name for x in items if _depends_on(x._value, ph._value.node)]
        which = f"fetch {', '.join(repr(n) for n in needing)} needs it" if needing else \
            "the fetches need it"
        return (f"you must feed a value for placeholder '{ph.name}' (shape {tuple(ph.shape)}, "
                f"dtype {ph.dtype.name}): {which}. Add it to feed_dict, e.g. "
                f"sess.run(..., feed_dict={{{name.lower()}: array}})")

    def __repr__(self) -> str:
        return f"<numbanet.static.Session on {self.device}>"


def _depends_on(value: Value, target) -> bool:
    stack, seen = [value.node], set()
    while stack:
        n = stack.pop()
        if n is target:
            return True
        if n.id in seen:
            continue
        seen.add(n.id)
        stack.extend(x.node for x in n.inputs if isinstance(x, Value))
    return False


class _AsDefault:
    def __init__(self, sess):
        self.sess = sess

    def __enter__(self):
        _sessions.append(self.sess)
        return self.sess

    def __exit__(self, *exc):
        _sessions.remove(self.sess)
        return False


class InteractiveSession(Session):
    """A Session that makes itself the default at once (for notebooks): ``t.eval()``
    works without a ``with`` block."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _sessions.append(self)

    def close(self):
        if self in _sessions:
            _sessions.remove(self)
        super().close()


def get_default_session():
    return _sessions[-1] if _sessions else None


def _default_session(session, what: str) -> Session:
    if session is not None:
        return session
    if not _sessions:
        raise ValueError(f"{what} needs a session: call it inside `with tf.Session() as "
                         "sess:`, or pass session=sess (or use sess.run(...))")
    return _sessions[-1]

