"""The same network on the same data gives the same loss and gradients as a static graph
(``numbanet.static``) and in eager mode (``numbanet`` autograd), on both devices."""
from __future__ import annotations

import numpy as np
import pytest

import numbanet as nb
import numbanet.static as tf

DEVICES = ["cpu", "cuda"]


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def data(N=6, D=5, H=4, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, D)), rng.standard_normal((N, D)),
            rng.standard_normal((D, H)), rng.standard_normal((H, D)), rng.standard_normal(H))


def eager(device, x, y, w1, w2, b1):
    t = {k: nb.tensor(v, dtype=nb.float64, device=device) for k, v in
         dict(x=x, y=y).items()}
    p = {k: nb.tensor(v, dtype=nb.float64, device=device, requires_grad=True) for k, v in
         dict(w1=w1, w2=w2, b1=b1).items()}
    h = nb.maximum(t["x"] @ p["w1"] + p["b1"], 0).sigmoid()
    y_pred = h @ p["w2"]
    loss = ((y_pred - t["y"]) ** 2).sum(1).mean() + (p["w1"] * p["w1"]).mean()
    loss.backward()
    return loss.item(), [p[k].grad.cpu().numpy() for k in ("w1", "w2", "b1")]


def static(device, x, y, w1, w2, b1):
    xp = tf.placeholder(tf.float64, shape=x.shape)
    yp = tf.placeholder(tf.float64, shape=y.shape)
    v1 = tf.Variable(w1, dtype=tf.float64)
    v2 = tf.Variable(w2, dtype=tf.float64)
    vb = tf.Variable(b1, dtype=tf.float64)
    h = tf.sigmoid(tf.maximum(tf.matmul(xp, v1) + vb, 0))
    y_pred = tf.matmul(h, v2)
    loss = tf.reduce_mean(tf.reduce_sum((y_pred - yp) ** 2, axis=1)) + tf.reduce_mean(v1 * v1)
    grads = tf.gradients(loss, [v1, v2, vb])
    with tf.Session(device=device) as sess:
        sess.run(tf.global_variables_initializer())
        loss_val, grad_vals = sess.run([loss, grads], feed_dict={xp: x, yp: y})
    return float(loss_val), grad_vals


@pytest.mark.parametrize("device", DEVICES)
def test_static_and_eager_give_the_same_loss_and_gradients_in_float64(device):
    values = data()
    loss_e, grads_e = eager(device, *values)
    loss_s, grads_s = static(device, *values)
    assert abs(loss_s - loss_e) <= 1e-10 * max(1.0, abs(loss_e))
    for gs, ge in zip(grads_s, grads_e):
        assert gs.dtype == np.float64
        np.testing.assert_allclose(gs, ge, rtol=1e-10, atol=1e-10)


def test_unoptimised_and_optimised_plans_agree():
    values = data(seed=1)
    x, y, w1, w2, b1 = values
    xp = tf.placeholder(tf.float64, shape=x.shape)
    v1 = tf.Variable(w1, dtype=tf.float64)
    loss = tf.reduce_sum(tf.nn.relu(tf.matmul(xp, v1)) * 3.0 - 1.0)
    g, = tf.gradients(loss, [v1])
    results = []
    for optimize in (True, False):
        with tf.Session(optimize=optimize) as sess:
            sess.run(tf.global_variables_initializer())
            results.append(sess.run([loss, g], feed_dict={xp: x}))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)
