"""The TensorFlow programs of the seed lecture, run with ``import numbanet.static as tf``.

Each test is the seed's program with only the import changed (and the loss values
collected), then checks that the loss falls. The seed's "Layers" program also keeps
two stale lines from the previous version (``h = tf.nn.maximum(tf.matmul(x, w1), 0)``
with no ``w1`` defined), which would stop any Python; they are left out here.
"""
from __future__ import annotations

import numpy as np
import pytest

import numbanet as nb
import numbanet.static as tf


@pytest.fixture(autouse=True)
def fresh_graph():
    tf.reset_default_graph()
    nb.manual_seed(0)
    np.random.seed(0)
    yield
    tf.reset_default_graph()


def assert_falls(losses, factor=0.5):
    losses = [float(v) for v in losses]
    assert all(np.isfinite(losses)), losses
    assert losses[-1] < factor * losses[0], f"loss did not fall: {losses[0]} -> {losses[-1]}"


def test_v1_placeholders_fed_every_step_loss_falls():
    # 1. define computational graph
    N, D, H = 64, 1000, 100
    x = tf.placeholder(tf.float32, shape=(N, D))  # create placeholders
    y = tf.placeholder(tf.float32, shape=(N, D))
    w1 = tf.placeholder(tf.float32, shape=(D, H))
    w2 = tf.placeholder(tf.float32, shape=(H, D))

    # forward pass / no computation. just build.
    h = tf.maximum(tf.matmul(x, w1), 0)
    y_pred = tf.matmul(h, w2)
    diff = y_pred - y
    loss = tf.reduce_mean(tf.reduce_sum(diff**2, axis=1))  # L2 dist(y, y_pred)

    # loss of gradient / no computation. just build.
    grad_w1, grad_w2 = tf.gradients(loss, [w1, w2])

    losses = []
    # 2. run the graph many times with feeding data
    with tf.Session() as sess:
        values = {x: np.random.randn(N, D),  # numpy arrays to fill placeholders
                  w1: np.random.randn(D, H),
                  w2: np.random.randn(H, D),
                  y: np.random.randn(N, D), }
        learning_rate = 1e-5
        # train the network
        for _t in range(50):
            out = sess.run([loss, grad_w1, grad_w2], feed_dict=values)  # run the graph
            loss_val, grad_w1_val, grad_w2_val = out  # output: arrays

            values[w1] -= learning_rate * grad_w1_val  # use gradient to update weights
            values[w2] -= learning_rate * grad_w2_val
            losses.append(loss_val)
    assert_falls(losses, 1e-2)
    assert isinstance(grad_w1_val, np.ndarray) and grad_w1_val.shape == (D, H)


def _v3(N=64, D=1000, H=100, steps=50, device=None):
    # 1. define computational graph
    x = tf.placeholder(tf.float32, shape=(N, D))  # create placeholders
    y = tf.placeholder(tf.float32, shape=(N, D))
    w1 = tf.Variable(tf.float32, shape=(D, H))  # create Variables
    w2 = tf.Variable(tf.float32, shape=(H, D))

    # forward pass / no computation. just build.
    h = tf.maximum(tf.matmul(x, w1), 0)
    y_pred = tf.matmul(h, w2)
    diff = y_pred - y
    loss = tf.reduce_mean(tf.reduce_sum(diff**2, axis=1))  # L2 dist(y, y_pred)

    # loss of gradient / no computation. just build.
    grad_w1, grad_w2 = tf.gradients(loss, [w1, w2])

    learning_rate = 1e-5
    new_w1 = w1.assign(w1 - learning_rate * grad_w1)
    new_w2 = w2.assign(w2 - learning_rate * grad_w2)

    updates = tf.group(new_w1, new_w2)  # add dummy graph node

    losses = []
    # 2. run the graph many times with feeding data
    with tf.Session(device=device) as sess:
        sess.run(tf.global_variables_initializer())  # run graph once to initialize w1, w2
        values = {x: np.random.randn(N, D),  # numpy arrays to fill placeholders
                  y: np.random.randn(N, D), }

        # train the network
        for _t in range(steps):
            # run the graph & compute dummy node(null return)
            loss_val, _ = sess.run([loss, updates], feed_dict=values)
            losses.append(loss_val)
    return losses


def test_v3_variables_assign_group_loss_falls():
    losses = _v3()
    assert_falls(losses, 1e-2)
    assert isinstance(losses[0], np.float32)


def test_v3_on_cuda_keeps_variables_on_the_device():
    losses = _v3(N=4, D=6, H=3, steps=3, device="/gpu:0")
    assert losses[-1] < losses[0]


def test_optimizer_version_loss_falls():
    # 1. define computational graph
    N, D, H = 64, 1000, 100
    x = tf.placeholder(tf.float32, shape=(N, D))
    y = tf.placeholder(tf.float32, shape=(N, D))
    w1 = tf.Variable(tf.float32, shape=(D, H))
    w2 = tf.Variable(tf.float32, shape=(H, D))

    # forward pass / no computation. just build.
    h = tf.maximum(tf.matmul(x, w1), 0)
    y_pred = tf.matmul(h, w2)
    diff = y_pred - y
    loss = tf.reduce_mean(tf.reduce_sum(diff**2, axis=1))

    optimizer = tf.train.GradientDescentOptimizer(1e-5)  # optimizer: compute grad & update w
    updates = optimizer.minimize(loss)

    # 2. run the graph many times with feeding data
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())  # run graph once to initialize w1, w2
        values = {x: np.random.randn(N, D),  # numpy arrays to fill placeholders
                  y: np.random.randn(N, D), }

        losses = []
        # train the network
        for _t in range(50):
            # run the graph & exec optimizer
            loss_val, _ = sess.run([loss, updates], feed_dict=values)
            losses.append(loss_val)
    assert_falls(losses, 1e-2)


def test_losses_version_loss_falls():
    # 1. define computational graph
    N, D, H = 64, 1000, 100
    x = tf.placeholder(tf.float32, shape=(N, D))
    y = tf.placeholder(tf.float32, shape=(N, D))
    w1 = tf.Variable(tf.float32, shape=(D, H))
    w2 = tf.Variable(tf.float32, shape=(H, D))

    # forward pass / no computation. just build.
    h = tf.maximum(tf.matmul(x, w1), 0)
    y_pred = tf.matmul(h, w2)
    loss = tf.losses.mean_squared_error(y_pred, y)  # predefined loss

    optimizer = tf.train.GradientDescentOptimizer(1e-3)  # optimizer: compute grad & update w
    updates = optimizer.minimize(loss)

    # 2. run the graph many times with feeding data
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())  # run graph once to initialize w1, w2
        values = {x: np.random.randn(N, D),  # numpy arrays to fill placeholders
                  y: np.random.randn(N, D), }

        losses = []
        # train the network
        for _t in range(50):
            # run the graph & exec optimizer
            loss_val, _ = sess.run([loss, updates], feed_dict=values)
            losses.append(loss_val)
    assert_falls(losses, 0.5)


def test_layers_version_with_xavier_loss_falls():
    # 1. define computational graph
    N, D, H = 64, 1000, 100
    x = tf.placeholder(tf.float32, shape=(N, D))
    y = tf.placeholder(tf.float32, shape=(N, D))

    # automatically set up W (tf.layers)
    init = tf.contrib.layers.xavier_initializer()  # Xavier initializer
    h = tf.layers.dense(inputs=x, units=H, activation=tf.nn.relu, kernel_initializer=init)
    y_pred = tf.layers.dense(inputs=h, units=D, kernel_initializer=init)

    loss = tf.losses.mean_squared_error(y_pred, y)  # predefined loss

    optimizer = tf.train.GradientDescentOptimizer(1e-3)  # optimizer: compute grad & update W
    updates = optimizer.minimize(loss)

    # 2. run the graph many times with feeding data
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())  # run graph once to initialize w1, w2
        values = {x: np.random.randn(N, D),  # numpy arrays to fill placeholders
                  y: np.random.randn(N, D), }

        losses = []
        # train the network
        for _t in range(50):
            # run the graph & exec optimizer
            loss_val, _ = sess.run([loss, updates], feed_dict=values)
            losses.append(loss_val)
    # MSE with a small learning rate from a Xavier start falls slowly, but it falls
    losses = [float(v) for v in losses]
    assert all(b < a for a, b in zip(losses, losses[1:])), losses


def test_adam_optimizer_trains_the_seed_network():
    N, D, H = 16, 20, 10
    x = tf.placeholder(tf.float32, shape=(N, D))
    y = tf.placeholder(tf.float32, shape=(N, D))
    h = tf.layers.dense(inputs=x, units=H, activation=tf.nn.relu)
    y_pred = tf.layers.dense(inputs=h, units=D)
    loss = tf.losses.mean_squared_error(y_pred, y)
    updates = tf.train.AdamOptimizer(1e-2).minimize(loss)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        values = {x: np.random.randn(N, D), y: np.random.randn(N, D)}
        losses = [sess.run([loss, updates], feed_dict=values)[0] for _ in range(60)]
    assert_falls(losses, 0.7)
