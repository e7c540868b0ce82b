"""Hostile inputs to numbanet.keras: every bad argument or array given to fit, evaluate,
predict, the ``*_on_batch`` methods, the losses, the metrics and ``to_categorical`` gets a
clear error of Keras 3's type (or works as Keras 3 does); nothing returns a silently
wrong number."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import numbanet as nb
from numbanet import keras
from numbanet.keras import layers

RNG = np.random.default_rng(0)
X = RNG.standard_normal((40, 6)).astype(np.float32)
LABELS = RNG.integers(0, 3, 40)


def classifier(loss="sparse_categorical_crossentropy", metrics=("accuracy",), input_shape=(6,)):
    nb.manual_seed(0)
    model = keras.Sequential([keras.Input(input_shape), layers.Dense(8, activation="relu"),
                              layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss=loss, metrics=list(metrics))
    return model


def regression(units=1, input_shape=(6,)):
    nb.manual_seed(0)
    model = keras.Sequential([keras.Input(input_shape), layers.Dense(units)])
    model.compile(optimizer="sgd", loss="mse")
    return model


# ---- complex values ---------------------------------------------------------------------------
COMPLEX_CALLS = {
    "fit x": lambda: classifier().fit(X + 1j, LABELS, verbose=0),
    "fit y": lambda: regression().fit(X, LABELS + 0.5j, verbose=0),
    "evaluate x": lambda: classifier().evaluate(X.astype(np.complex64), LABELS, verbose=0),
    "predict": lambda: classifier().predict(X + 0j, verbose=0),
    "predict_on_batch": lambda: classifier().predict_on_batch(X + 0j),
    "model call": lambda: classifier()(X + 2j),
    "validation_data": lambda: classifier().fit(X, LABELS, validation_data=(X + 1j, LABELS),
                                                verbose=0),
    "loss": lambda: keras.losses.MeanSquaredError()(np.ones(3) + 1j, np.ones(3)),
    "layer call": lambda: layers.Dense(2)(X + 1j),
    "set_weights": lambda: regression().set_weights([np.ones((6, 1)) + 1j, np.zeros(1)]),
}


@pytest.mark.parametrize("call", COMPLEX_CALLS.values(), ids=COMPLEX_CALLS.keys())
def test_complex_values_are_refused_naming_the_dtype_and_the_fix(call):
    with pytest.raises(TypeError, match=r"complex(64|128).*np\.real.*np\.abs"):
        call()


# ---- no samples -------------------------------------------------------------------------------
EMPTY_CALLS = {
    "fit": lambda m: m.fit(X[:0], LABELS[:0], verbose=0),
    "evaluate": lambda m: m.evaluate(X[:0], LABELS[:0], verbose=0),
    "predict": lambda m: m.predict(X[:0], verbose=0),
    "train_on_batch": lambda m: m.train_on_batch(X[:0], LABELS[:0]),
    "test_on_batch": lambda m: m.test_on_batch(X[:0], LABELS[:0]),
    "predict_on_batch": lambda m: m.predict_on_batch(X[:0]),
    "validation_data": lambda m: m.fit(X, LABELS, validation_data=(X[:0], LABELS[:0]),
                                       verbose=0),
}


@pytest.mark.parametrize("call", EMPTY_CALLS.values(), ids=EMPTY_CALLS.keys())
def test_zero_samples_raise_a_value_error_instead_of_returning_zeros(call):
    with pytest.raises(ValueError, match=r"0 samples.*\(0, 6\)"):
        call(classifier())


# ---- targets ----------------------------------------------------------------------------------
def test_integer_labels_for_categorical_crossentropy_are_not_called_one_hot():
    model = classifier(loss="categorical_crossentropy")
    for y in (LABELS, LABELS[:, None]):
        with pytest.raises(ValueError) as err:
            model.fit(X, y, verbose=0)
        message = str(err.value)
        assert "expects one-hot targets of shape (40, 3)" in message
        assert f"y has shape {y.shape}" in message and "looks one-hot" not in message
        assert "sparse_categorical_crossentropy" in message and "to_categorical(y, 3)" in message


def test_labels_of_the_wrong_rank_for_sparse_crossentropy_are_described_as_they_are():
    sequence = keras.Sequential([keras.Input((4, 6)), layers.Dense(3, activation="softmax")])
    sequence.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError) as err:
        sequence.fit(np.zeros((5, 4, 6), np.float32), np.zeros(5, np.int64), verbose=0)
    message = str(err.value)
    assert "integer class labels of shape (5, 4)" in message and "shape (5,)" in message
    assert "one-hot" not in message


def test_direct_categorical_crossentropy_on_labels_suggests_the_sparse_loss():
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy.*to_categorical"):
        keras.losses.categorical_crossentropy(nb.tensor([0, 2]), nb.tensor([[0.5, 0.5, 0.0]] * 2))


@pytest.mark.parametrize("bad", [np.nan, 1.5, np.inf, -np.inf])
def test_sparse_labels_that_are_not_whole_numbers_are_refused(bad):
    y = LABELS.astype(np.float64)
    y[7] = bad
    with pytest.raises(ValueError, match=r"integer class labels.*" + re_value(bad)) as err:
        classifier().fit(X, y, verbose=0)
    assert "9223372036854775808" not in str(err.value)


def re_value(value):
    return "nan" if math.isnan(value) else "-?inf" if math.isinf(value) else str(value)


def test_sparse_labels_too_large_for_int64_are_refused():
    y = np.full(40, 2 ** 63 + 5, dtype=np.uint64)
    with pytest.raises((ValueError, OverflowError), match="9223372036854775813"):
        classifier().fit(X, y, verbose=0)


def test_direct_sparse_crossentropy_refuses_fractional_labels():
    with pytest.raises(ValueError, match="integer class labels.*1.7"):
        keras.losses.sparse_categorical_crossentropy(nb.tensor([1.7]), nb.tensor([[0.5, 0.5]]))


def test_sample_count_mismatch_says_data_cardinality_is_ambiguous():
    for call in (lambda m: m.fit(X, LABELS[:39], verbose=0),
                 lambda m: m.evaluate(X, LABELS[:39], verbose=0),
                 lambda m: m.train_on_batch(X, LABELS[:39])):
        with pytest.raises(ValueError, match=r"Data cardinality is ambiguous.*x has 40 and y "
                                             r"has 39"):
            call(classifier())


# ---- arguments of fit, evaluate and predict ---------------------------------------------------
BAD_ARGUMENTS = [
    (dict(validation_split="0.2"), TypeError, r"validation_split must be a float in \[0, 1\)"),
    (dict(validation_split=[0.2]), TypeError, r"validation_split must be a float.*list"),
    (dict(validation_split=1.0), ValueError, r"validation_split must be a float in \[0, 1\)"),
    (dict(validation_split=-0.1), ValueError, r"in \[0, 1\).*got -0.1"),
    (dict(validation_split=float("nan")), ValueError, r"in \[0, 1\).*got nan"),
    (dict(batch_size="32"), TypeError, "batch_size must be a positive int.*'32'"),
    (dict(batch_size=2.0), TypeError, "batch_size must be a positive int.*2.0"),
    (dict(batch_size=0), ValueError, "batch_size must be a positive int.*0"),
    (dict(epochs="2"), TypeError, "epochs must be a non-negative int.*'2'"),
    (dict(epochs=-1), ValueError, "epochs must be a non-negative int.*-1"),
    (dict(initial_epoch="1"), TypeError, "initial_epoch must be a non-negative int.*'1'"),
    (dict(initial_epoch=-1), ValueError, "initial_epoch must be a non-negative int.*-1"),
    (dict(validation_split=0.2, validation_freq=0), ValueError,
     "validation_freq must be a positive int or a list of epochs.*0"),
    (dict(validation_split=0.2, validation_freq="1"), ValueError,
     "validation_freq must be a positive int or a list of epochs.*'1'"),
    (dict(shuffle="yes"), ValueError, "shuffle must be True, False or 'batch'.*'yes'"),
    (dict(shuffle=None), TypeError, "shuffle must be True, False or 'batch'.*None"),
    (dict(callbacks=3), TypeError, "callbacks must be a list of keras.callbacks.Callback"),
    (dict(validation_data=(X, LABELS, None, None)), ValueError,
     r"validation_data must be \(x_val, y_val\).*tuple of 4"),
    (dict(class_weight={0: 2.0}), TypeError, "class_weight.*not supported"),
    (dict(sample_weight=np.ones(40)), TypeError, "sample_weight.*not supported"),
]


def argument_id(kwargs):
    name, value = list(kwargs.items())[-1]
    return f"{name}={value!r}" if isinstance(value, (str, int, float, type(None))) else \
        f"{name}={type(value).__name__}"


@pytest.mark.parametrize("kwargs, error, message", BAD_ARGUMENTS,
                         ids=[argument_id(a[0]) for a in BAD_ARGUMENTS])
def test_fit_arguments_of_a_wrong_type_or_value_are_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        classifier().fit(X, LABELS, verbose=0, **kwargs)


@pytest.mark.parametrize("method", ["evaluate", "predict"])
def test_evaluate_and_predict_check_batch_size_and_callbacks_like_fit(method):
    model = classifier()
    args = (X, LABELS) if method == "evaluate" else (X,)
    with pytest.raises(TypeError, match="batch_size must be a positive int"):
        getattr(model, method)(*args, batch_size="8", verbose=0)
    with pytest.raises(TypeError, match="callbacks must be a list"):
        getattr(model, method)(*args, callbacks=3, verbose=0)


def test_validation_freq_may_list_the_epochs_to_validate_as_in_keras():
    history = classifier().fit(X, LABELS, epochs=4, validation_split=0.25,
                               validation_freq=[2, 4], verbose=0)
    assert len(history.history["loss"]) == 4 and len(history.history["val_loss"]) == 2


def test_shuffle_batch_shuffles_the_samples_within_each_batch_only():
    orders = []
    model = regression(units=1, input_shape=(1,))
    train_step = model._train_step

    def recording_step(x, y, *args, **kwargs):
        orders.append(x.numpy()[:, 0].tolist())
        return train_step(x, y, *args, **kwargs)

    model._train_step = recording_step
    x = np.arange(12, dtype=np.float32)[:, None]
    model.fit(x, x, batch_size=4, epochs=3, shuffle="batch", verbose=0)
    assert [sorted(o) for o in orders] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]] * 3
    assert any(o != sorted(o) for o in orders)


def test_shuffle_batch_is_refused_under_mpirun_rather_than_done_as_a_full_shuffle(monkeypatch):
    from numbanet.keras import trainer

    class Rank0:
        rank, size = 0, 2

    monkeypatch.setattr(trainer._dist, "active_world", lambda: Rank0())
    with pytest.raises(ValueError, match="shuffle='batch' is not supported under mpirun"):
        classifier().fit(X, LABELS, shuffle="batch", verbose=0)


# ---- the arrays themselves --------------------------------------------------------------------
@pytest.mark.parametrize("x, y", [(np.float32(1), [0]), (nb.tensor(1.0), [0]),
                                  (X[:2], np.int64(1)), (X[:2], nb.tensor(1))],
                         ids=["numpy x", "tensor x", "numpy y", "tensor y"])
def test_scalars_are_refused_as_data(x, y):
    with pytest.raises(ValueError, match="one row per sample.*scalar"):
        classifier().fit(x, y, verbose=0)


def test_inputs_of_the_wrong_rank_for_the_model_are_refused():
    with pytest.raises(ValueError, match=r"expected shape \(None, 6\).*incompatible shape \(6,\)"):
        classifier().predict(X[0], verbose=0)
    with pytest.raises(ValueError, match=r"expected shape \(None, 6\).*\(40, 6, 2\)"):
        classifier().fit(np.zeros((40, 6, 2), np.float32), LABELS, verbose=0)


def test_a_trailing_axis_of_one_is_added_or_dropped_as_in_keras():
    column = regression(input_shape=(1,))
    flat = np.arange(8, dtype=np.float32)
    np.testing.assert_allclose(column.predict(flat, verbose=0),
                               column.predict(flat[:, None], verbose=0))
    model = classifier()
    np.testing.assert_allclose(model.predict(X[:, :, None], verbose=0),
                               model.predict(X, verbose=0))


def test_ragged_lists_raise_a_value_error_that_says_so():
    with pytest.raises(ValueError, match=r"x: .*rows of different lengths.*one length"):
        classifier().fit([[1.0] * 6, [1.0] * 5], [0, 1], verbose=0)


def test_ragged_lists_given_to_a_layer_raise_a_value_error_that_says_so():
    with pytest.raises(ValueError, match=r"Dense 'd' inputs: .*lengths 1, 2"):
        layers.Dense(2, name="d")([[1.0], [1.0, 2.0]])


def test_accuracy_of_a_sequence_model_is_a_fraction_of_the_samples():
    """Per-sample values with further axes are averaged over them first, as in Keras."""
    nb.manual_seed(0)
    model = keras.Sequential([keras.Input((4, 6)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = RNG.standard_normal((10, 4, 6)).astype(np.float32)
    y = RNG.integers(0, 3, (10, 4))
    accuracy = model.evaluate(x, y, batch_size=4, verbose=0)[1]
    expected = (model.predict(x, verbose=0).argmax(-1) == y).mean()
    assert accuracy == pytest.approx(expected)


def test_batch_normalization_of_inputs_without_channels_is_refused_when_it_is_built():
    with pytest.raises(ValueError, match=r"BatchNormalization 'bn' needs a known size of at "
                                         r"least 1 along axis -1.*\(None, 0\)"):
        layers.BatchNormalization(name="bn")(np.ones((2, 0), np.float32), training=True)


def test_metric_and_loss_functions_must_return_tensors():
    def constant(y_true, y_pred):
        return 1.0

    with pytest.raises(TypeError, match="metric 'constant' returned float.*Tensor"):
        classifier(metrics=[constant]).fit(X, LABELS, verbose=0)
    with pytest.raises(TypeError, match="loss 'constant' returned float.*Tensor"):
        classifier(loss=constant, metrics=()).fit(X, LABELS, verbose=0)


def test_a_metric_returning_one_value_per_batch_is_averaged_over_batches_as_in_keras():
    def batch_mean(y_true, y_pred):
        return y_pred[:, 0].mean() * 0 + 1.0

    history = classifier(metrics=[batch_mean]).fit(X, LABELS, batch_size=16, verbose=0)
    assert history.history["batch_mean"] == [pytest.approx(1.0)]


@pytest.mark.parametrize("metric, y_true, message", [
    ("categorical_accuracy", LABELS[:4], r"categorical_accuracy expects one-hot targets of "
                                         r"shape \(4, 3\).*'sparse_categorical_accuracy'"),
    ("sparse_categorical_accuracy", np.eye(3)[LABELS[:4]], r"labels of shape \(4, 3\)"),
    ("binary_accuracy", np.ones((4, 2)), r"targets of shape \(4, 2\).*\(4, 3\)"),
])
def test_accuracy_metrics_refuse_targets_that_would_broadcast(metric, y_true, message):
    """Broadcasting (4,) labels against (4,) argmaxes, or one-hot rows against labels,
    would give a number that is no accuracy at all."""
    y_pred = RNG.random((4, 3)).astype(np.float32)
    with pytest.raises(ValueError, match=message):
        getattr(keras.metrics, metric)(y_true, y_pred)


def test_losses_and_metrics_take_numpy_arrays_as_in_keras():
    assert float(keras.losses.MeanSquaredError()(np.ones(3), np.zeros(3)).item()) == 1.0
    assert float(keras.losses.mean_absolute_error(np.ones((2, 3)), np.zeros((2, 3)))
                 .sum().item()) == 2.0
    assert keras.metrics.binary_accuracy(np.ones((2, 1)), np.ones((2, 1))).numpy().tolist() \
        == [1.0, 1.0]
    assert float(keras.losses.SparseCategoricalCrossentropy()(
        np.array([1]), np.array([[0.5, 0.5]])).item()) == pytest.approx(math.log(2))


@pytest.mark.parametrize("labels, num_classes, error, message", [
    ("a", None, TypeError, "to_categorical: expected a NumPy array of numbers.*<U1"),
    ([1 + 2j], None, TypeError, "to_categorical: got complex values"),
    ([0, 1], 0, ValueError, "num_classes must be a positive int.*0"),
    ([0, 1], 2.5, TypeError, "num_classes must be a positive int.*2.5"),
    ([np.nan, 1], None, ValueError, "integer class labels.*nan"),
])
def test_to_categorical_refuses_what_are_not_class_labels(labels, num_classes, error, message):
    with pytest.raises(error, match=message):
        keras.utils.to_categorical(labels, num_classes)


# ---- constructor arguments --------------------------------------------------------------------
@pytest.mark.parametrize("make, error, message", [
    (lambda: keras.optimizers.SGD(learning_rate="0.1"), TypeError,
     r"SGD: learning_rate must be a number >= 0, got '0.1' \(str\)"),
    (lambda: keras.optimizers.SGD(learning_rate=float("nan")), ValueError,
     "learning_rate must be a number >= 0, got nan"),
    (lambda: keras.optimizers.SGD(momentum="0.9"), TypeError, r"momentum must be a number in"),
    (lambda: keras.optimizers.Adam(beta_1=1.0), ValueError,
     r"beta_1 must be a number in \[0, 1\)"),
    (lambda: keras.optimizers.Adam(epsilon=-1e-7), ValueError, "epsilon must be a number >= 0"),
    (lambda: keras.optimizers.RMSprop(rho=float("nan")), ValueError, "rho must be a number in"),
    (lambda: keras.Input(("3",)), ValueError, r"Input: cannot convert \('3',\) to a shape"),
    (lambda: keras.Input(3.0), ValueError, "Input: cannot convert 3.0 to a shape"),
    (lambda: regression().compile(loss="mse", metrics=3), TypeError,
     "a metric must be a name.*got int"),
    (lambda: regression().compile(loss=[]), TypeError, "loss must be a name.*got list"),
    (lambda: regression().set_weights(None), TypeError,
     "set_weights expects a list of arrays.*got NoneType"),
    (lambda: layers.Dense(2).set_weights(3), TypeError, "set_weights expects a list of arrays"),
    (lambda: regression().fit(X, LABELS, shuffle=nb.tensor(1.0)), TypeError,
     "shuffle must be True, False or 'batch'"),
    (lambda: regression().fit(X, LABELS, verbose=nb.tensor(1.0)), ValueError,
     "verbose must be 'auto', 0, 1 or 2"),
    (lambda: keras.optimizers.SGD(clipnorm=float("nan")), ValueError,
     "SGD: clipnorm must be a number > 0, got nan"),
    (lambda: keras.optimizers.Adam(clipnorm=0), ValueError, "clipnorm must be a number > 0"),
    (lambda: keras.optimizers.Adam(global_clipnorm="1"), TypeError,
     "global_clipnorm must be a number > 0"),
    (lambda: keras.optimizers.SGD(clipvalue=float("inf")), ValueError,
     "clipvalue must be a number >= 0, got inf"),
    (lambda: keras.optimizers.RMSprop(weight_decay=float("nan")), ValueError,
     "weight_decay must be a number >= 0, got nan"),
    (lambda: layers.Conv2D(2, 3, strides=2 ** 70), ValueError,
     r"strides must be positive \(and at most 2147483647\)"),
    (lambda: layers.MaxPooling2D(pool_size=(2, 2 ** 40)), ValueError, "at most 2147483647"),
    (lambda: layers.Conv2D(2, 3, padding=nb.tensor([1.0])), ValueError,
     "padding must be 'valid'"),
    (lambda: layers.Conv2D(2, 3, data_format=nb.tensor([1.0])), ValueError,
     "data_format must be 'channels_last'"),
    (lambda: layers.Dense(2, input_shape=1.5), ValueError,
     "Dense: input_shape: cannot convert 1.5 to a shape"),
    (lambda: layers.Dense(2, input_dim="3"), TypeError, "Dense: input_dim must be a positive int"),
    (lambda: keras.Input((3,), batch_size=2.5), TypeError, "Input: batch_size must be a positive"),
    (lambda: keras.callbacks.EarlyStopping(monitor=["val_loss"]), TypeError,
     "EarlyStopping: monitor must be the name of a logged quantity"),
    (lambda: keras.callbacks.EarlyStopping(baseline="0.5"), TypeError,
     "EarlyStopping: baseline must be a number or None, got str"),
    (lambda: keras.callbacks.EarlyStopping(min_delta=float("nan")), ValueError,
     "EarlyStopping: min_delta must be a number, got nan"),
    (lambda: keras.optimizers.get({"class_name": "Adam", "config": 3}), TypeError,
     "Adam.from_config expects a dict of its constructor's arguments, got int"),
    (lambda: keras.losses.get({"class_name": "MeanSquaredError", "config": None}), TypeError,
     "MeanSquaredError.from_config expects a dict"),
    (lambda: keras.losses.get({"class_name": ["MeanSquaredError"]}), TypeError,
     "loss must be a name.*got dict"),
])
def test_constructor_and_compile_arguments_are_checked(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_a_nan_learning_rate_set_later_is_refused_too():
    optimizer = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="learning_rate must be a number >= 0, got nan"):
        optimizer.learning_rate = float("nan")


def test_epoch_means_over_ranks_keep_each_value_with_its_own_count():
    """Under mpirun the sums and counts of every value are added over the ranks; a fake
    world of two ranks that saw the same batches must give one rank's means."""
    from numbanet.keras.trainer import EpochMeans

    class TwoEqualRanks:
        MPI = type("MPI", (), {"SUM": "sum"})
        comm = type("Comm", (), {"Allreduce": staticmethod(
            lambda local, total, op: total.__setitem__(slice(None), 2 * local))})()

    means = EpochMeans(["loss", "per_batch", "per_sample"])
    means.add(4, nb.tensor(1.0), [(nb.tensor(0.5), 1), (nb.tensor(2.0), 4)])
    means.add(2, nb.tensor(4.0), [(nb.tensor(1.5), 1), (nb.tensor(2.0), 2)])
    assert means.result_over_ranks(TwoEqualRanks()) == pytest.approx(
        {"loss": 2.0, "per_batch": 1.0, "per_sample": 4 / 6})


def test_terminate_on_nan_stops_fit_at_the_first_batch_whose_loss_is_not_finite(capsys):
    x = X.copy()
    x[40 - 8:] = np.nan  # the last batch of 8, unshuffled: 4 finite batches of 8 first
    model = classifier()
    history = model.fit(x, LABELS, batch_size=8, epochs=5, shuffle=False, verbose=0,
                        callbacks=[keras.callbacks.TerminateOnNaN()])
    assert len(history.history["loss"]) == 1 and math.isnan(history.history["loss"][0])
    assert "Batch 4: Invalid loss, terminating training" in capsys.readouterr().out


def test_labels_held_by_a_cuda_tensor_are_checked_like_numpy_labels():
    """Tiny, for the CUDA simulator: a 4 x 3 -> 2 model."""
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.to("cuda")
    x = RNG.standard_normal((4, 3)).astype(np.float32)
    model.fit(x, nb.tensor([0.0, 1.0, 1.0, 0.0], device="cuda"), verbose=0)
    with pytest.raises(ValueError, match="integer class labels, got 1.5"):
        model.fit(x, nb.tensor([0.0, 1.5, 1.0, 0.0], device="cuda"), verbose=0)
    with pytest.raises(ValueError, match="integer class labels, got 0.5"):
        keras.losses.sparse_categorical_crossentropy(nb.tensor([0.5], device="cuda"),
                                                     nb.tensor([[0.5, 0.5]], device="cuda"))


# ---- any labels -------------------------------------------------------------------------------
LABEL_DTYPES = ["int8", "uint8", "int32", "int64", "uint64", "float16", "float32", "float64",
                "bool"]


@st.composite
def label_arrays(draw):
    dtype = np.dtype(draw(st.sampled_from(LABEL_DTYPES)))
    if dtype.kind == "f":
        elements = st.one_of(st.sampled_from([0.0, 1.0, 2.0]),
                             st.floats(width=8 * dtype.itemsize))
    else:
        elements = None  # the whole range of the dtype
    return draw(hnp.arrays(dtype, 4, elements=elements))


@given(label_arrays())
def test_any_labels_are_used_as_they_are_or_refused(labels):
    """Whole numbers in [0, 3) are evaluated as those classes; anything else (NaN, inf,
    fractions, negatives, values past the last class or past int64) is a ValueError."""
    model = classifier(metrics=())
    x = X[:4]
    whole = labels.dtype == np.bool_ or np.all(np.isfinite(labels.astype(np.float64))
                                               & (labels == np.round(labels)))
    if whole and labels.min() >= 0 and labels.max() < 3:
        p = model.predict(x, verbose=0)
        expected = -np.log(p[np.arange(4), labels.astype(np.int64)]).mean()
        assert model.evaluate(x, labels, verbose=0) == pytest.approx(expected, rel=1e-5)
    else:
        with pytest.raises(ValueError, match="class labels"):
            model.evaluate(x, labels, verbose=0)


def test_dropout_takes_a_numpy_float_rate_as_keras_does():
    layer = layers.Dropout(np.float32(0.25))
    assert layer.rate == 0.25
    with pytest.raises(ValueError, match="rate must be a number between 0 and 1"):
        layers.Dropout(np.float32("nan"))


def test_a_loss_that_does_not_depend_on_the_weights_is_keras_no_gradients_error():
    def constant(y_true, y_pred):
        return nb.ones(y_pred.shape[0])

    with pytest.raises(ValueError, match="No gradients provided for any variable: the loss "
                                         "'constant' does not depend on the model's weights"):
        classifier(loss=constant, metrics=()).fit(X, LABELS, verbose=0)


def test_a_model_without_trainable_weights_fits_with_a_warning_as_in_keras():
    model = regression()
    model.trainable = False
    before = [w.copy() for w in model.get_weights()]
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        history = model.fit(X, LABELS.astype(np.float32), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


@pytest.mark.parametrize("method", ["fit", "evaluate", "predict", "train_on_batch"])
def test_a_model_without_layers_is_refused_as_keras_refuses_to_build_it(method):
    model = keras.Sequential([keras.Input((6,))], name="empty")
    model.compile(optimizer="sgd", loss="mse")
    args = (X,) if method == "predict" else (X, X)
    with pytest.raises(ValueError, match=f"{method}: the model 'empty' has no layers"):
        getattr(model, method)(*args)


def test_a_numpy_argument_of_a_loss_joins_the_device_of_the_tensor_argument():
    """Tiny, for the CUDA simulator."""
    y_true = nb.tensor([[1.0, 0.0]], device="cuda")
    loss = keras.losses.MeanSquaredError()(y_true, np.array([[0.0, 0.0]]))
    assert loss.device.type == "cuda" and float(loss.item()) == 0.5
