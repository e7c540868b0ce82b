"""The digits classifier of the issue: Sequential([Dense(64, 'relu'), Dense(10, 'softmax')]),
Adam, 30 epochs, reaches at least 95% accuracy on the held-out 20%."""
import numbanet as nb
from numbanet import keras
from numbanet.demo import digits_split
from numbanet.keras.layers import Dense


def test_digits_classifier_reaches_95_percent():
    nb.manual_seed(0)
    x_train, y_train, x_test, y_test = digits_split()      # fixed 80/20 split
    model = keras.Sequential([Dense(64, "relu"), Dense(10, "softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x_train, y_train, epochs=30, batch_size=32, verbose=0)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.95, (accuracy, history.history["accuracy"][-1])
    assert history.history["loss"][-1] < history.history["loss"][0] / 5
    assert model.predict(x_test, verbose=0).argmax(1).tolist() == \
        model.predict(x_test, batch_size=359, verbose=0).argmax(1).tolist()
