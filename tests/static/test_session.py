"""Session semantics: fetch structures, feeds, variables kept on the device, errors that
say what to do, and ``tf.device``."""
from __future__ import annotations

import collections

import numpy as np
import pytest

import numbanet as nb
import numbanet.static as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    nb.manual_seed(0)
    yield
    tf.reset_default_graph()


def small_net():
    x = tf.placeholder(tf.float32, shape=(3, 4), name="x")
    w = tf.Variable(np.arange(8, dtype=np.float32).reshape(4, 2) / 10, name="w")
    y = tf.matmul(x, w)
    loss = tf.reduce_sum(y * y)
    return x, w, y, loss


def test_run_returns_the_fetch_structure_nested_lists_tuples_dicts_and_namedtuples():
    x, w, y, loss = small_net()
    Pair = collections.namedtuple("Pair", "a b")
    xv = np.ones((3, 4), np.float32)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        out = sess.run({"loss": loss, "more": [y, (w, Pair(loss, y))]}, feed_dict={x: xv})
    expected_y = xv @ (np.arange(8, dtype=np.float32).reshape(4, 2) / 10)
    assert set(out) == {"loss", "more"}
    np.testing.assert_allclose(out["loss"], (expected_y ** 2).sum(), rtol=1e-6)
    assert isinstance(out["more"], list) and isinstance(out["more"][1], tuple)
    assert isinstance(out["more"][1][1], Pair)
    np.testing.assert_allclose(out["more"][1][1].b, expected_y, rtol=1e-6)
    assert np.ndim(out["loss"]) == 0


def test_a_fetched_array_is_not_overwritten_by_the_next_run():
    x, w, y, loss = small_net()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        first = sess.run(y, feed_dict={x: np.ones((3, 4))})
        kept = first.copy()
        sess.run(y, feed_dict={x: np.full((3, 4), 5.0)})
    np.testing.assert_array_equal(first, kept)


def test_eval_and_operation_run_use_the_default_session():
    x, w, y, loss = small_net()
    step = w.assign(w * 2.0)
    with tf.Session():
        tf.global_variables_initializer().run()
        before = w.eval()
        assert step.eval() is not None
        np.testing.assert_allclose(w.eval(), 2 * before)
    with pytest.raises(ValueError, match="needs a session"):
        w.eval()


def test_reads_see_the_start_of_the_run_and_assigns_apply_at_its_end():
    w = tf.Variable(np.float32(1.0))
    bump = w.assign(w + 1.0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        old, new = sess.run([w, bump])
        assert (old, new) == (1.0, 2.0)
        assert sess.run(w) == 2.0


def test_unfed_placeholder_is_named_with_the_fetch_that_needs_it():
    x, w, y, loss = small_net()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        with pytest.raises(tf.GraphRunError, match=r"placeholder 'x:0'.*shape \(3, 4\).*"
                                                   r"'Sum:0' needs it.*feed_dict"):
            sess.run(loss)


def test_feeding_a_wrong_shape_names_the_placeholder_and_both_shapes():
    x, w, y, loss = small_net()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        with pytest.raises(ValueError, match=r"shape \(3, 5\) to placeholder 'x:0', which "
                                             r"has shape \(3, 4\)"):
            sess.run(loss, feed_dict={x: np.ones((3, 5))})


def test_feeding_a_lossy_dtype_is_refused_and_float64_to_float32_is_converted():
    ints = tf.placeholder(tf.int64, shape=(2,), name="ints")
    doubled = ints * 2
    with tf.Session() as sess:
        with pytest.raises(TypeError, match="float64 to placeholder 'ints:0' of dtype int64"):
            sess.run(doubled, feed_dict={ints: np.array([1.5, 2.5])})
        np.testing.assert_array_equal(sess.run(doubled, feed_dict={ints: [1, 2]}), [2, 4])
        with pytest.raises(TypeError, match="cannot feed a value of dtype"):
            sess.run(doubled, feed_dict={ints: np.array(["a", "b"])})


def test_reading_an_uninitialised_variable_says_to_run_the_initializer():
    x, w, y, loss = small_net()
    with tf.Session() as sess:
        with pytest.raises(tf.UninitializedVariableError,
                           match="uninitialized variable 'w'.*global_variables_initializer"):
            sess.run(loss, feed_dict={x: np.ones((3, 4))})


def test_fetching_from_another_graph_is_refused():
    other = tf.Graph()
    with other.as_default():
        foreign = tf.constant(1.0) * 2.0
    with tf.Session() as sess:
        with pytest.raises(ValueError, match="'mul:0' belongs to another graph"):
            sess.run(foreign)
    with tf.Session(graph=other) as sess:
        assert sess.run(foreign) == 2.0


def test_mixing_graphs_in_one_op_is_refused():
    a = tf.constant(1.0)
    other = tf.Graph()
    with other.as_default():
        b = tf.constant(2.0)
    with pytest.raises(ValueError, match="another graph"):
        tf.add(a, b)


def test_graph_tensors_have_no_values_while_building():
    x, w, y, loss = small_net()
    with pytest.raises(TypeError, match="has no value until the graph runs"):
        bool(loss)
    with pytest.raises(TypeError, match="sess.run"):
        np.asarray(loss)
    assert "Sum:0" in repr(loss) and "shape=()" in repr(loss)


def test_placeholder_shapes_must_be_static():
    with pytest.raises(ValueError, match="static shapes"):
        tf.placeholder(tf.float32, shape=(None, 3))


def test_device_context_runs_the_graph_on_the_gpu_and_keeps_variables_there(monkeypatch):
    with tf.device("/gpu:0"):
        x = tf.placeholder(tf.float32, shape=(2, 3))
        w = tf.Variable(tf.random_normal((3, 2)))
        loss = tf.reduce_sum(tf.matmul(x, w) ** 2)
        step = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    sess = tf.Session()
    assert sess.device == nb.device("cuda:0")
    sess.run(tf.global_variables_initializer())
    be = sess.device.backend
    moved = []
    for name in ("from_host", "to_host"):
        real = getattr(be, name)
        monkeypatch.setattr(be, name, lambda a, real=real, name=name:
                            moved.append((name, tuple(a.shape))) or real(a))
    xv = np.ones((2, 3), np.float32)
    losses = [sess.run([loss, step], feed_dict={x: xv})[0] for _ in range(3)]
    assert losses[-1] < losses[0]
    # per step: the fed x goes up, the loss comes down; the weights (3, 2) never move
    assert moved == [("from_host", (2, 3)), ("to_host", ())] * 3
    assert type(sess._variables["Variable"]).__name__ != "ndarray" or \
        nb.cuda.is_simulated()


def test_device_strings_of_tensorflow_are_understood():
    from numbanet.static.graph import parse_device
    assert parse_device("/cpu:0") == nb.device("cpu")
    assert parse_device("/device:GPU:0") == nb.device("cuda:0")
    assert parse_device("/job:localhost/replica:0/task:0/device:GPU:0") == nb.device("cuda:0")
    with pytest.raises(ValueError, match="unknown device"):
        parse_device("/tpu:0")


def test_gradients_of_a_tensor_that_does_not_depend_on_x_is_none():
    x = tf.placeholder(tf.float32, shape=(2,))
    z = tf.placeholder(tf.float32, shape=(2,))
    assert tf.gradients(tf.reduce_sum(x * 2.0), [x, z])[1] is None


def test_variable_signatures_of_tensorflow_1():
    a = tf.Variable(tf.random_normal((2, 3)))
    b = tf.Variable(np.zeros((2, 3)), dtype=tf.float32)
    c = tf.Variable(tf.float32, shape=(4,))
    d = tf.Variable(3.0, name="scalar")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        va, vb, vc, vd = sess.run([a, b, c, d])
    assert va.shape == (2, 3) and vb.dtype == np.float32 and not vb.any()
    assert vc.shape == (4,) and vc.std() > 0
    assert vd == 3.0 and d.name == "scalar:0"
