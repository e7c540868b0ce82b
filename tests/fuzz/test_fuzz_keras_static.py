"""Fuzzing the Keras and TF1-style layers in the guarded worker, where there is no reference
library to compare with: fit, evaluate and predict of a small Sequential model, and a
Session run of a static graph, with inputs and targets of random shapes (0 samples too),
dtypes (ints, bools, complex, strings, objects) and values (NaN, inf) either work or raise a
documented error (ValueError, TypeError...), and never crash, hang or leak a Numba error or an
AttributeError. Complex, string and object data, and 0 samples, are always refused."""
from __future__ import annotations

import numpy as np
from cases import case, shapes
from harness import EXAMPLES, check
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

FUZZ = settings(max_examples=EXAMPLES, print_blob=True)
DTYPES = ("float32", "float64", "int64", "bool", "complex128", "<U3", "object", "uint8")


@st.composite
def hostile_arrays(draw, shape=None):
    """A NumPy array of a drawn shape (or near ``shape``) and dtype, with special values."""
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    if shape is None or draw(st.integers(0, 2)) == 0:
        shape = draw(shapes(0, 3, 5))
    if dtype.kind in "UO":
        return np.full(shape, "x", dtype=dtype)
    if dtype.kind == "c":
        return draw(hnp.arrays(np.float64, shape, elements=st.floats(-2, 2))) * (1 + 1j)
    elements = st.floats(-3, 3) | st.sampled_from([np.nan, np.inf, -np.inf]) \
        if dtype.kind == "f" else None
    return draw(hnp.arrays(dtype, shape, elements=elements))


MODEL = """from numbanet import keras
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation='relu'),
                          keras.layers.Dense({units}, activation={activation!r})])
model.compile(optimizer={optimizer!r}, loss={loss!r}, metrics={metrics!r})
"""


@FUZZ
@given(st.data())
def test_keras_fit_evaluate_predict_with_any_data_work_or_raise_documented_errors(worker, data):
    loss = data.draw(st.sampled_from(["mse", "categorical_crossentropy",
                                      "sparse_categorical_crossentropy",
                                      "binary_crossentropy"]))
    units = data.draw(st.sampled_from([1, 2]))
    setup = MODEL.format(units=units, loss=loss,
                         activation=data.draw(st.sampled_from(["linear", "softmax", "sigmoid"])),
                         optimizer=data.draw(st.sampled_from(["sgd", "adam", "rmsprop"])),
                         metrics=data.draw(st.sampled_from([[], ["accuracy"]])))
    n = data.draw(st.integers(0, 5))
    x = data.draw(hostile_arrays((n, 4)))
    y = data.draw(hostile_arrays((n, units)))
    call = data.draw(st.sampled_from([
        "model.fit(x, y, epochs=1, batch_size={bs}, verbose=0)",
        "model.fit(x, y, epochs=1, validation_split=0.5, verbose=0)",
        "model.evaluate(x, y, batch_size={bs}, verbose=0)",
        "model.predict(x, batch_size={bs}, verbose=0)",
        "model.train_on_batch(x, y)",
    ])).format(bs=data.draw(st.sampled_from([1, 2, 32, None])))
    code = setup + f"out = {call}\nresult = model.predict(np.zeros((2, 4), np.float32), verbose=0)"
    used = [x] if call.startswith("model.predict") else [x, y]
    if any(a.dtype.kind in "cOU" for a in used):
        # complex values are not dropped silently; strings and objects are not numbers
        expect = ("raises", "TypeError", "ValueError")
    elif x.ndim and x.shape[0] == 0 or (call.endswith("validation_split=0.5, verbose=0)")
                                        and x.ndim and x.shape[0] == 1):
        # no samples to fit, evaluate or predict (Keras 3 raises for each)
        expect = ("raises", "ValueError")
    else:
        expect = ("any",)
    check(worker, case(code, expect=expect,
                       x={"array": x, "as_array": True}, y={"array": y, "as_array": True}))


STATIC = """import numbanet.static as tf
tf.reset_default_graph()
x = tf.placeholder(tf.float32, shape={shape})
w = tf.Variable(np.ones((4, 2), np.float32))
y = tf.matmul(x, w)
loss = tf.reduce_sum(tf.maximum(y, 0.0))
step = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    result = sess.run({fetch}, feed_dict={{x: feed}})
"""


@FUZZ
@given(st.data())
def test_static_session_feeds_of_any_shape_and_dtype_work_or_raise_documented_errors(worker,
                                                                                      data):
    shape = data.draw(st.sampled_from(["(None, 4)", "(3, 4)", "None"]))
    code = STATIC.format(shape=shape,
                         fetch=data.draw(st.sampled_from(["y", "[loss, step]", "loss"])))
    feed = data.draw(hostile_arrays((data.draw(st.integers(0, 4)), 4)))
    fits = {"(None, 4)": feed.ndim == 2 and feed.shape[1:] == (4,),
            "(3, 4)": feed.shape == (3, 4), "None": feed.ndim == 2 and feed.shape[1:] == (4,)}
    # a feed of another shape than the placeholder's, or of values that are not real
    # numbers, is refused (TensorFlow 1 raises ValueError / TypeError)
    expect = ("raises", "TypeError", "ValueError") if feed.dtype.kind in "cOU" or \
        not fits[shape] else ("any",)
    check(worker, case(code, expect=expect, feed={"array": feed, "as_array": True}))
