"""model.save / keras.models.load_model: one ZIP file with a JSON config and the weights as
NumPy arrays (no pickle); the reloaded model predicts the same, is compiled again and
resumes training exactly; damaged or foreign files get an error naming the file."""
import json
import zipfile

import numpy as np
import pytest

import numbanet as nb
from numbanet import keras
from numbanet.keras import layers

RNG = np.random.default_rng(0)
X = RNG.standard_normal((30, 5)).astype(np.float32)
LABELS = RNG.integers(0, 3, 30)


def trained_model():
    nb.manual_seed(0)
    model = keras.Sequential([keras.Input((5,)), layers.Dense(8, activation="relu"),
                              layers.Dropout(0.1), layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(X, LABELS, epochs=2, batch_size=10, verbose=0)
    return model


def test_save_writes_a_zip_of_json_and_npy_arrays(tmp_path):
    path = tmp_path / "model.keras"
    trained_model().save(path)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["config.json", "metadata.json", "model.weights.npz",
                                        "optimizer.weights.npz"]
        config = json.loads(z.read("config.json"))
    assert config["format"] == "numbanet.keras" and config["class_name"] == "Sequential"
    assert [entry["class_name"] for entry in config["config"]["layers"]] == \
        ["InputLayer", "Dense", "Dropout", "Dense"]
    assert config["config"]["layers"][1]["config"]["activation"] == "relu"
    assert config["compile_config"]["loss"]["class_name"] == "SparseCategoricalCrossentropy"
    assert config["compile_config"]["metrics"] == ["accuracy"]


def test_load_model_rebuilds_predicts_the_same_and_resumes_training(tmp_path):
    model = trained_model()
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert isinstance(loaded.optimizer, keras.optimizers.Adam)
    assert loaded.optimizer.learning_rate == 0.01 and loaded.optimizer.iterations == 6
    # the optimizer's moments came back too: one more epoch gives the same weights
    for m in (model, loaded):
        nb.manual_seed(5)
        m.fit(X, LABELS, epochs=1, batch_size=10, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    uncompiled = keras.models.load_model(tmp_path / "model.keras", compile=False)
    assert not uncompiled.compiled


def test_save_needs_the_keras_suffix_and_respects_overwrite(tmp_path):
    model = trained_model()
    with pytest.raises(ValueError, match=r"must end in \.keras"):
        model.save(tmp_path / "model.h5")
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError):
        model.save(tmp_path / "m.keras", overwrite=False)


def test_weights_alone(tmp_path):
    model = trained_model()
    model.save_weights(tmp_path / "w.weights.npz")
    other = keras.Sequential([keras.Input((5,)), layers.Dense(8, activation="relu"),
                              layers.Dropout(0.1), layers.Dense(3, activation="softmax")])
    other.load_weights(tmp_path / "w.weights.npz")
    np.testing.assert_array_equal(other.predict(X, verbose=0), model.predict(X, verbose=0))
    wrong = keras.Sequential([keras.Input((5,)), layers.Dense(4), layers.Dropout(0.1),
                              layers.Dense(3)])
    with pytest.raises(ValueError, match=r"Dense 'dense_\d+' weight 'kernel' has shape "
                                         r"\(5, 4\), the file holds \(5, 8\)"):
        wrong.load_weights(tmp_path / "w.weights.npz")
    with pytest.raises(ValueError, match=r"must end in \.weights\.npz"):
        model.save_weights(tmp_path / "w.h5")


def test_a_model_with_a_python_function_inside_cannot_be_saved(tmp_path):
    model = keras.Sequential([keras.Input((5,)), layers.Dense(2, activation=lambda t: t * 2)])
    with pytest.raises(ValueError, match="can't save the activation.*Python function"):
        model.save(tmp_path / "m.keras")


@pytest.mark.parametrize("damage,message", [
    (lambda p: p.write_bytes(b"hello"), "is not a ZIP archive"),
    (lambda p: p.write_bytes(p.read_bytes()[:200]), "not a ZIP archive|damaged"),
    (lambda p: _rewrite(p, drop="config.json"), "without config.json"),
    (lambda p: _rewrite(p, replace={"config.json": b"{not json"}), "config.json'? can't be read"),
    (lambda p: _rewrite(p, drop="model.weights.npz"), "no model.weights.npz"),
    (lambda p: _rewrite(p, replace={"model.weights.npz": b"garbage"}), "damaged"),
    (lambda p: _rewrite(p, drop="model.weights.npz", replace={
        "config.json": json.dumps({"class_name": "Sequential"}).encode(),
        "model.weights.h5": b"\x89HDF"}), "saved by Keras itself"),
])
def test_damaged_or_foreign_files_get_a_clear_error_naming_the_file(tmp_path, damage, message):
    path = tmp_path / "model.keras"
    trained_model().save(path)
    damage(path)
    with pytest.raises(ValueError, match=message) as err:
        keras.models.load_model(path)
    assert str(path) in str(err.value)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="no such file"):
        keras.models.load_model("/nonexistent/model.keras")


def _rewrite(path, drop=None, replace=None):
    with zipfile.ZipFile(path) as z:
        entries = {name: z.read(name) for name in z.namelist()}
    entries.pop(drop, None)
    entries.update(replace or {})
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)


def test_an_unbuilt_model_saves_and_loads_unbuilt(tmp_path):
    model = keras.Sequential([layers.Dense(4, activation="tanh"), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert not loaded.built and loaded.compiled
    assert loaded.predict(np.ones((2, 3)), verbose=0).shape == (2, 1)
