"""Callbacks fire in Keras's order with Keras's logs; EarlyStopping stops and restores;
ModelCheckpoint fills its file name template and its files reload; CSVLogger,
LambdaCallback and TensorBoard (event files that TensorBoard itself reads)."""
import csv
import os

import numpy as np
import pytest

import numbanet as nb
from numbanet import keras
from numbanet.keras import callbacks, layers
from numbanet.keras.event_file import read_scalars

RNG = np.random.default_rng(0)
X = RNG.standard_normal((20, 4)).astype(np.float32)
Y = RNG.standard_normal((20, 1)).astype(np.float32)


def regression(metrics=("mae",)):
    nb.manual_seed(0)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse",
                  metrics=list(metrics))
    return model


class Recorder(callbacks.Callback):
    """Records every hook call with its arguments."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def wants_batch_hooks(self, group):
        return True

    def __getattribute__(self, name):
        if name.startswith("on_") and name not in ("on_batch_begin", "on_batch_end"):
            calls = object.__getattribute__(self, "calls")
            return lambda *args: calls.append((name,) + tuple(
                dict(a) if hasattr(a, "keys") else a for a in args))
        return object.__getattribute__(self, name)


class ScriptedValLoss(callbacks.Callback):
    """Replaces val_loss with a scripted sequence and keeps each epoch's weights."""

    def __init__(self, values):
        super().__init__()
        self.values, self.weights = values, []

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]
        self.weights.append(self.model.get_weights())


def test_hooks_fire_in_keras_order():
    recorder = Recorder()
    regression().fit(X, Y, epochs=2, batch_size=8, validation_split=0.2, verbose=0,
                     callbacks=[recorder])   # 16 training samples: 2 batches; 4 validate
    names = [c[0] for c in recorder.calls]
    epoch = ["on_epoch_begin", "on_train_batch_begin", "on_train_batch_end",
             "on_train_batch_begin", "on_train_batch_end", "on_test_begin",
             "on_test_batch_begin", "on_test_batch_end", "on_test_end", "on_epoch_end"]
    assert names == ["on_train_begin"] + epoch + epoch + ["on_train_end"]
    assert recorder.params == {"verbose": 0, "epochs": 2, "steps": 2}
    ends = [c for c in recorder.calls if c[0] == "on_epoch_end"]
    assert [c[1] for c in ends] == [0, 1]
    assert list(ends[0][2]) == ["loss", "mae", "val_loss", "val_mae"]
    batch_ends = [c for c in recorder.calls if c[0] == "on_train_batch_end"]
    assert [c[1] for c in batch_ends] == [0, 1, 0, 1]
    # the last batch's running means are the epoch's values
    assert batch_ends[1][2] == pytest.approx({k: v for k, v in ends[0][2].items()
                                              if not k.startswith("val_")})
    assert recorder.calls[-1][1] == ends[-1][2]             # on_train_end gets the last logs


def test_evaluate_and_predict_hooks():
    model = regression()
    recorder = Recorder()
    model.evaluate(X, Y, batch_size=10, verbose=0, callbacks=[recorder])
    assert [c[0] for c in recorder.calls] == ["on_test_begin", "on_test_batch_begin",
                                              "on_test_batch_end", "on_test_batch_begin",
                                              "on_test_batch_end", "on_test_end"]
    recorder.calls.clear()
    model.predict(X, batch_size=20, verbose=0, callbacks=[recorder])
    assert [c[0] for c in recorder.calls] == ["on_predict_begin", "on_predict_batch_begin",
                                              "on_predict_batch_end", "on_predict_end"]


def test_keras_1_batch_hooks_still_fire():
    seen = []

    class OldStyle(callbacks.Callback):
        def on_batch_begin(self, batch, logs=None):
            seen.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            seen.append(("end", batch, round(logs["loss"], 6) > 0))

    regression().fit(X, Y, epochs=1, batch_size=10, verbose=0, callbacks=[OldStyle()])
    assert seen == [("begin", 0), ("end", 0, True), ("begin", 1), ("end", 1, True)]


def test_early_stopping_stops_after_patience_and_restores_the_best_weights():
    script = ScriptedValLoss([5.0, 4.0, 3.0, 3.5, 3.6, 3.7, 3.8, 3.9])
    stop = callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    model = regression()
    history = model.fit(X, Y, epochs=8, verbose=0, callbacks=[script, stop])
    assert history.epoch == [0, 1, 2, 3, 4]          # stops 2 epochs after the best (2)
    assert stop.stopped_epoch == 4 and stop.best == 3.0 and stop.best_epoch == 2
    for got, best in zip(model.get_weights(), script.weights[2]):
        np.testing.assert_array_equal(got, best)


def test_early_stopping_modes_and_min_delta():
    stop = callbacks.EarlyStopping(monitor="val_accuracy")
    assert stop.increasing and stop.is_improvement(0.9, 0.8)
    stop = callbacks.EarlyStopping(monitor="loss", min_delta=0.1)
    assert not stop.increasing
    assert not stop.is_improvement(0.95, 1.0) and stop.is_improvement(0.85, 1.0)
    stop = callbacks.EarlyStopping(monitor="val_mae", mode="max")
    assert stop.increasing
    with pytest.warns(UserWarning, match="'val_loss', which is not in the logs"):
        regression().fit(X, Y, epochs=1, verbose=0, callbacks=[callbacks.EarlyStopping()])


def test_model_checkpoint_fills_the_template_and_its_file_reloads(tmp_path):
    path = str(tmp_path / "ckpt" / "model-{epoch:02d}-{loss:.3f}.keras")
    model = regression()
    history = model.fit(X, Y, epochs=3, verbose=0,
                        callbacks=[callbacks.ModelCheckpoint(path, monitor="loss")])
    losses = history.history["loss"]
    names = sorted(os.listdir(tmp_path / "ckpt"))
    assert names == [f"model-{e + 1:02d}-{loss:.3f}.keras" for e, loss in enumerate(losses)]
    reloaded = keras.models.load_model(tmp_path / "ckpt" / names[-1])
    np.testing.assert_allclose(reloaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_model_checkpoint_save_best_only_and_weights_only(tmp_path):
    script = ScriptedValLoss([3.0, 2.0, 2.5, 1.0])
    template = str(tmp_path / "w-{epoch}.weights.npz")
    checkpoint = callbacks.ModelCheckpoint(template, save_best_only=True,
                                           save_weights_only=True)
    model = regression()
    model.fit(X, Y, epochs=4, verbose=0, callbacks=[script, checkpoint])
    assert sorted(os.listdir(tmp_path)) == ["w-1.weights.npz", "w-2.weights.npz",
                                            "w-4.weights.npz"]
    fresh = keras.Sequential([keras.Input((4,)), layers.Dense(1)])
    fresh.load_weights(tmp_path / "w-2.weights.npz")
    for got, want in zip(fresh.get_weights(), script.weights[1]):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match=r"must end in \.weights\.npz"):
        callbacks.ModelCheckpoint(str(tmp_path / "w.keras"), save_weights_only=True)
    with pytest.raises(ValueError, match=r"must end in \.keras"):
        callbacks.ModelCheckpoint(str(tmp_path / "m.h5"))


def test_csv_logger_writes_one_row_per_epoch_and_appends(tmp_path):
    path = tmp_path / "log.csv"
    history = regression().fit(X, Y, epochs=3, validation_split=0.25, verbose=0,
                               callbacks=[callbacks.CSVLogger(path)])
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    np.testing.assert_allclose([float(r["val_loss"]) for r in rows],
                               history.history["val_loss"], rtol=1e-6)
    regression().fit(X, Y, epochs=2, validation_split=0.25, verbose=0,
                     callbacks=[callbacks.CSVLogger(path, append=True)])
    with open(path, newline="") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["0", "1", "2", "0", "1"]


def test_lambda_callback():
    events = []
    cb = callbacks.LambdaCallback(
        on_train_begin=lambda logs: events.append("begin"),
        on_epoch_end=lambda epoch, logs: events.append((epoch, sorted(logs))),
        on_train_batch_end=lambda batch, logs: events.append(("batch", batch)))
    regression().fit(X, Y, epochs=2, batch_size=20, verbose=0, callbacks=[cb])
    assert events == ["begin", ("batch", 0), (0, ["loss", "mae"]), ("batch", 0),
                      (1, ["loss", "mae"])]
    with pytest.raises(TypeError, match="unknown hook"):
        callbacks.LambdaCallback(on_epoch_finish=print)


def test_learning_rate_can_be_changed_from_a_callback():
    model = regression()
    lower = callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: setattr(model.optimizer, "learning_rate",
                                                   0.1 / (epoch + 1)))
    model.fit(X, Y, epochs=3, verbose=0, callbacks=[lower])
    assert model.optimizer.learning_rate == pytest.approx(0.1 / 3)


def test_tensorboard_writes_event_files_with_keras_tags(tmp_path):
    history = regression().fit(X, Y, epochs=3, batch_size=5, validation_split=0.25, verbose=0,
                               callbacks=[callbacks.TensorBoard(tmp_path, update_freq=2)])
    train, val = read_scalars(tmp_path / "train"), read_scalars(tmp_path / "validation")
    assert set(train) == {"epoch_loss", "epoch_mae", "epoch_learning_rate", "batch_loss",
                          "batch_mae"}
    assert set(val) == {"epoch_loss", "epoch_mae"}
    assert [s for s, _ in train["epoch_loss"]] == [0, 1, 2]
    np.testing.assert_allclose([v for _, v in train["epoch_loss"]], history.history["loss"],
                               rtol=1e-6)
    np.testing.assert_allclose([v for _, v in val["epoch_mae"]], history.history["val_mae"],
                               rtol=1e-6)
    assert [s for s, _ in train["batch_loss"]] == [2, 4, 6, 8]  # 3 batches x 3 epochs
    np.testing.assert_allclose([v for _, v in train["epoch_learning_rate"]], [0.05] * 3)


def test_tensorboard_itself_reads_the_event_files(tmp_path):
    accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator")
    history = regression().fit(X, Y, epochs=2, validation_split=0.25, verbose=0,
                               callbacks=[callbacks.TensorBoard(tmp_path)])
    for folder, key in (("train", "loss"), ("validation", "val_loss")):
        reader = accumulator.EventAccumulator(str(tmp_path / folder))
        reader.Reload()
        events = reader.Scalars("epoch_loss")
        assert [e.step for e in events] == [0, 1]
        np.testing.assert_allclose([e.value for e in events], history.history[key],
                                   rtol=1e-6)


def test_event_file_checksums_catch_damage(tmp_path):
    regression().fit(X, Y, epochs=1, verbose=0, callbacks=[callbacks.TensorBoard(tmp_path)])
    (path,) = [p for p in (tmp_path / "train").iterdir()]
    blob = bytearray(path.read_bytes())
    blob[-6] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match="bad data checksum"):
        read_scalars(tmp_path / "train")
