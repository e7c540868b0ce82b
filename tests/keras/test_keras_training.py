"""compile / fit / evaluate / predict: Keras's return types, History, validation_split,
shuffling, stop_training, inputs of any kind, and errors that say how to fix them."""
import numpy as np
import pytest

import numbanet as nb
from numbanet import keras
from numbanet.keras import layers

RNG = np.random.default_rng(0)
X = RNG.standard_normal((40, 6)).astype(np.float32)
LABELS = RNG.integers(0, 3, 40)


def classifier(seed=0):
    nb.manual_seed(seed)
    model = keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu"),
                              layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_history_has_keras_keys_epochs_and_params():
    history = classifier().fit(X, LABELS, epochs=3, batch_size=16, validation_split=0.25,
                               verbose=0)
    assert isinstance(history, keras.callbacks.History)
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(v) == 3 and all(isinstance(e, float) for e in v)
               for v in history.history.values())
    assert history.epoch == [0, 1, 2]
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 2}   # 30 samples / 16


def test_fit_defaults_batch_size_32_and_one_epoch():
    model = classifier()
    history = model.fit(X, LABELS, verbose=0)
    assert history.params["steps"] == 2 and history.epoch == [0]
    assert model.history is history


def test_validation_split_takes_the_last_fraction_before_shuffling():
    model = keras.Sequential([keras.Input((6,)), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse")
    y = RNG.standard_normal((40, 1))
    # 40 * (1 - 0.25) = 30: the last 10 samples validate, whatever the shuffling does
    history = model.fit(X, y, epochs=2, validation_split=0.25, shuffle=True, verbose=0)
    train_loss = model.evaluate(X[:30], y[:30], verbose=0)
    val_loss = model.evaluate(X[30:], y[30:], verbose=0)
    assert history.history["val_loss"] == [pytest.approx(val_loss)] * 2
    assert history.history["loss"] == [pytest.approx(train_loss, rel=1e-5)] * 2
    # Keras rounds the split point down: 10 * (1 - 0.25) = 7.5 -> 7 training samples
    history = model.fit(X[:10], y[:10], validation_split=0.25, batch_size=1, verbose=0)
    assert history.params["steps"] == 7


def test_validation_data_is_evaluated_after_each_epoch():
    model = classifier()
    history = model.fit(X[:30], LABELS[:30], epochs=2, validation_data=(X[30:], LABELS[30:]),
                        verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(
        model.evaluate(X[30:], LABELS[30:], verbose=0)[0], rel=1e-5)


def test_evaluate_and_predict_return_types():
    model = classifier()
    model.fit(X, LABELS, epochs=1, verbose=0)
    result = model.evaluate(X, LABELS, verbose=0)
    assert isinstance(result, list) and len(result) == 2
    assert all(isinstance(v, float) for v in result)
    as_dict = model.evaluate(X, LABELS, verbose=0, return_dict=True)
    assert as_dict == {"accuracy": pytest.approx(result[1]), "loss": pytest.approx(result[0])}
    probs = model.predict(X, verbose=0)
    assert isinstance(probs, np.ndarray) and probs.shape == (40, 3)
    assert probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-5)
    np.testing.assert_allclose(model.predict(X, batch_size=7, verbose=0), probs, rtol=1e-6)
    regression = keras.Sequential([keras.Input((6,)), layers.Dense(1)])
    regression.compile(optimizer="sgd", loss="mse")
    loss = regression.evaluate(X, np.zeros((40, 1)), verbose=0)
    assert isinstance(loss, float)


def test_shuffling_repeats_after_manual_seed():
    def run(seed):
        model = classifier(0)
        nb.manual_seed(seed)
        return model.fit(X, LABELS, epochs=2, batch_size=8, verbose=0).history["loss"]
    assert run(1) == run(1)
    assert run(1) != run(2)


def test_inputs_may_be_tensors_lists_or_other_dtypes_and_are_cast():
    model = classifier()
    history = model.fit(nb.tensor(X, dtype=nb.float64), nb.tensor(LABELS), epochs=1,
                        verbose=0, device="cpu")
    assert np.isfinite(history.history["loss"][0])
    assert model.predict(X.tolist(), verbose=0).dtype == np.float32
    assert model.predict(X.astype(np.float64), verbose=0).shape == (40, 3)
    labels_as_floats = LABELS.astype(np.float32)
    assert model.evaluate(X, labels_as_floats, verbose=0)[0] == pytest.approx(
        model.evaluate(X, LABELS, verbose=0)[0])


def test_stop_training_ends_fit_after_the_epoch_and_initial_epoch_resumes():
    model = classifier()
    stopper = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: setattr(model, "stop_training", epoch == 1))
    history = model.fit(X, LABELS, epochs=10, callbacks=[stopper], verbose=0)
    assert history.epoch == [0, 1]
    history = model.fit(X, LABELS, epochs=5, initial_epoch=3, verbose=0)
    assert history.epoch == [3, 4]


def test_training_mode_only_inside_fit():
    """Dropout acts in fit (the loss moves between identical epochs at lr 0) but not in
    evaluate or predict (the same output twice)."""
    nb.manual_seed(0)
    model = keras.Sequential([keras.Input((6,)), layers.Dropout(0.5), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse")
    y = np.zeros((40, 1))
    losses = model.fit(X, y, epochs=3, batch_size=40, verbose=0).history["loss"]
    assert len(set(losses)) == 3
    np.testing.assert_array_equal(model.predict(X, verbose=0), model.predict(X, verbose=0))
    assert model.evaluate(X, y, verbose=0) == model.evaluate(X, y, verbose=0)


def test_fit_before_compile_says_to_compile():
    model = keras.Sequential([layers.Dense(1)])
    with pytest.raises(ValueError, match=r"You must call compile\(\) before fit\(\).*"
                                         r"model.compile\(optimizer="):
        model.fit(X, np.zeros((40, 1)))


def test_sample_count_mismatch_gives_both_sizes():
    model = classifier()
    with pytest.raises(ValueError, match=r"x has 40 and y has 39"):
        model.fit(X, LABELS[:39], verbose=0)


def test_class_labels_given_to_categorical_crossentropy_suggest_the_fixes():
    model = keras.Sequential([keras.Input((6,)), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(ValueError) as err:
        model.fit(X, LABELS, verbose=0)
    message = str(err.value)
    assert "one-hot targets of shape (40, 3)" in message and "(40,)" in message
    assert "sparse_categorical_crossentropy" in message and "to_categorical(y, 3)" in message


def test_other_target_errors():
    model = classifier()
    with pytest.raises(ValueError, match=r"class labels must be in \[0, 2\].*from 1 to 7"):
        model.fit(X, LABELS * 3 + 1, verbose=0)
    with pytest.raises(ValueError, match="looks one-hot.*categorical_crossentropy"):
        model.fit(X, keras.utils.to_categorical(LABELS, 3), verbose=0)
    regression = keras.Sequential([keras.Input((6,)), layers.Dense(2)])
    regression.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"y has shape \(40, 3\) but the model's output has "
                                         r"shape \(None, 2\)"):
        regression.fit(X, np.zeros((40, 3)), verbose=0)
    with pytest.raises(TypeError, match="NumPy array"):
        regression.fit("data", np.zeros((40, 2)), verbose=0)
    with pytest.raises(TypeError, match="unexpected keyword argument.*'epoch'"):
        regression.fit(X, np.zeros((40, 2)), epoch=3)


def test_add_rejects_torch_style_modules_and_duplicate_names():
    model = keras.Sequential()
    with pytest.raises(TypeError, match="use keras.layers here"):
        model.add(nb.nn.Linear(3, 2))
    model.add(layers.Dense(2, name="a"))
    with pytest.raises(ValueError, match="already has a layer named 'a'"):
        model.add(layers.Dense(2, name="a"))


def test_single_batch_methods():
    model = classifier()
    loss, accuracy = model.train_on_batch(X[:8], LABELS[:8])
    assert isinstance(loss, float) and 0 <= accuracy <= 1
    assert set(model.test_on_batch(X[:8], LABELS[:8], return_dict=True)) == {"accuracy", "loss"}
    assert model.predict_on_batch(X[:8]).shape == (8, 3)


def test_fit_on_cuda_keeps_the_weights_there_and_matches_the_cpu():
    """Tiny, for the CUDA simulator: one step of SGD on a 4 x 3 -> 2 model."""
    x = RNG.standard_normal((4, 3)).astype(np.float32)
    y = RNG.standard_normal((4, 2)).astype(np.float32)
    weights = [RNG.standard_normal((3, 2)).astype(np.float32), np.zeros(2, np.float32)]
    results = []
    for device in ("cpu", "cuda"):
        model = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
        model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0, device=device)
        assert all(p.device.type == device for p in model.weights)
        results.append(model.predict(x, verbose=0))
    np.testing.assert_allclose(results[1], results[0], rtol=1e-5, atol=1e-6)
