"""The Keras 1 program of the seed lecture (CS231n lecture 8) runs as written, with only
its import paths changed from keras to numbanet.keras, and its loss falls. Each Keras 1
name it uses gives a DeprecationWarning that names its modern replacement."""
import re
import warnings

import numpy as np
import pytest

import numbanet as nb


def run_seed_program():
    """The lecture's program, line for line."""
    from numbanet.keras.layers.core import Activation, Dense
    from numbanet.keras.models import Sequential
    from numbanet.keras.optimizers import SGD
    N, D, H = 64, 1000, 100
    model = Sequential()
    model.add(Dense(input_dim=D, output_dim=H))
    model.add(Activation('relu'))
    model.add(Dense(input_dim=H, output_dim=D))
    optimizer = SGD(lr=1e0)
    model.compile(loss='mean_squared_error', optimizer=optimizer)
    x = np.random.randn(N, D)
    y = np.random.randn(N, D)
    history = model.fit(x, y, nb_epoch=50, batch_size=N, verbose=0)
    return model, history


def test_seed_keras_program_trains_with_the_loss_falling():
    np.random.seed(0)
    nb.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model, history = run_seed_program()
    losses = history.history["loss"]
    assert len(losses) == 50 and history.epoch == list(range(50))
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.9 * losses[0]
    assert sum(b < a for a, b in zip(losses, losses[1:])) >= 45  # falls nearly every epoch
    assert [w.shape for w in model.get_weights()] == [(1000, 100), (100,), (100, 1000), (1000,)]
    assert history.params == {"verbose": 0, "epochs": 50, "steps": 1}


def test_seed_keras_1_names_warn_and_name_their_modern_form():
    with pytest.warns(DeprecationWarning) as record:
        run_seed_program()
    messages = [str(w.message) for w in record if w.category is DeprecationWarning]
    expected = [r"import Dense from numbanet\.keras\.layers",
                r"import Activation from numbanet\.keras\.layers",
                r"Dense\(units=100\)", r"keras\.Input\(shape=\(1000,\)\)",
                r"SGD\(learning_rate=1\.0\)", r"fit\(epochs=50\)"]
    for pattern in expected:
        assert any(re.search(pattern, m) for m in messages), (pattern, messages)
    # every warning points at the program's own line, not at numbanet's internals
    assert all(w.filename == __file__ for w in record if w.category is DeprecationWarning)
