"""Training plots (``plot_losses``, ``plot_history``, ``History.plot``) and the confusion
matrix: the figures hold the right lines and labels, and a missing matplotlib is
reported with the command that installs it."""
import sys

import numpy as np
import pytest

import numbanet as nb
from numbanet.keras.callbacks import History
from numbanet.viz import confusion_matrix, plot_confusion_matrix, plot_history, plot_losses
from numbanet.viz.plots import moving_average


@pytest.fixture
def plt():
    matplotlib = pytest.importorskip("matplotlib", reason="the plots need matplotlib: "
                                     'pip install "numbanet[notebooks]"')
    matplotlib.use("Agg")  # no display in tests
    import matplotlib.pyplot as plt
    yield plt
    plt.close("all")


def fitted_history() -> History:
    history = History()
    history.epoch = [0, 1, 2]
    history.history = {"accuracy": [0.5, 0.7, 0.8], "loss": [1.2, 0.8, 0.5],
                       "val_accuracy": [0.45, 0.6, 0.7], "val_loss": [1.3, 1.0, 0.9]}
    return history


def lines(ax) -> dict:
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata()))
            for line in ax.get_lines()}


def test_history_plot_puts_each_metric_with_its_validation_twin(plt):
    fig = fitted_history().plot()
    loss_ax, acc_ax = fig.axes  # loss first, whatever the order of the history
    assert loss_ax.get_title() == "loss" and acc_ax.get_title() == "accuracy"
    assert lines(loss_ax) == {"loss": ([1, 2, 3], [1.2, 0.8, 0.5]),
                              "val_loss": ([1, 2, 3], [1.3, 1.0, 0.9])}
    assert set(lines(acc_ax)) == {"accuracy", "val_accuracy"}
    assert loss_ax.get_xlabel() == "epoch"
    assert [t.get_text() for t in loss_ax.get_legend().get_texts()] == ["loss", "val_loss"]


def test_history_plot_chooses_metrics_and_draws_into_given_axes(plt):
    fig = fitted_history().plot(metrics=["loss"])
    assert len(fig.axes) == 1 and set(lines(fig.axes[0])) == {"loss", "val_loss"}
    own_fig, own_ax = plt.subplots()
    assert fitted_history().plot("accuracy", ax=own_ax) is own_fig
    assert set(lines(own_ax)) == {"accuracy", "val_accuracy"}
    with pytest.raises(ValueError, match=r"got 1 Axes for 2 metrics \['loss', 'accuracy'\]"):
        fitted_history().plot(ax=own_ax)
    with pytest.raises(ValueError, match=r"no metric \['mae'\].*\['loss', 'accuracy'\]"):
        fitted_history().plot(["mae"])
    with pytest.raises(ValueError, match="history is empty"):
        History().plot()


def test_history_from_fit_is_plotted_with_its_epoch_numbers(plt):
    from numbanet import keras
    nb.manual_seed(0)
    x = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)
    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, epochs=2, verbose=0)
    history = model.fit(x, y, epochs=5, initial_epoch=2, validation_split=0.25, verbose=0)
    fig = history.plot()
    assert lines(fig.axes[0])["loss"][0] == [3, 4, 5]
    assert lines(fig.axes[0])["val_loss"][1] == pytest.approx(history.history["val_loss"])


def test_plot_losses_draws_a_list_a_dict_and_a_smoothed_curve(plt):
    fig = plot_losses([3.0, 2.0, 1.5, 1.2])
    assert lines(fig.axes[0]) == {"loss": ([1, 2, 3, 4], [3.0, 2.0, 1.5, 1.2])}
    assert fig.axes[0].get_xlabel() == "step" and fig.axes[0].get_ylabel() == "loss"
    fig = plot_losses({"SGD": [3, 2, 1], "Adam": [3, 1, 0.5]}, log=True, title="optimizers")
    assert set(lines(fig.axes[0])) == {"SGD", "Adam"}
    assert fig.axes[0].get_yscale() == "log" and fig.axes[0].get_title() == "optimizers"
    noisy = list(np.random.default_rng(0).normal(size=50) + np.linspace(5, 1, 50))
    fig = plot_losses(noisy, smooth=10)
    drawn = lines(fig.axes[0])
    assert drawn["loss (mean of 10)"][1] == pytest.approx(moving_average(np.array(noisy), 10))
    assert len(fig.axes[0].get_lines()) == 2  # the raw curve, faded, behind the average
    with pytest.raises(ValueError, match="empty"):
        plot_losses([])


def test_plot_losses_takes_tensor_values(plt):
    losses = [nb.tensor(2.0), nb.tensor(1.0)]
    assert lines(plot_losses(losses).axes[0])["loss"][1] == [2.0, 1.0]


def test_moving_average_is_the_mean_of_the_last_window_values():
    values = np.array([4.0, 2.0, 6.0, 0.0, 8.0])
    expected = [np.mean(values[max(0, k - 2):k + 1]) for k in range(5)]
    assert moving_average(values, 3) == pytest.approx(expected)


def test_a_missing_matplotlib_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    for draw in (lambda: plot_losses([1.0, 0.5]), lambda: fitted_history().plot(),
                 lambda: plot_confusion_matrix(np.eye(2))):
        with pytest.raises(ImportError, match=r'pip install "numbanet\[notebooks\]"'):
            draw()


def test_confusion_matrix_counts_true_rows_against_predicted_columns():
    counts = confusion_matrix([0, 1, 1, 2, 2, 2], [0, 2, 1, 2, 0, 2])
    np.testing.assert_array_equal(counts, [[1, 0, 0], [0, 1, 1], [1, 0, 2]])
    assert counts.sum() == 6 and np.trace(counts) == 4
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])  # what model.predict returns
    np.testing.assert_array_equal(confusion_matrix(nb.tensor([0, 1, 1]), scores),
                                  [[1, 0], [1, 1]])
    assert confusion_matrix([0, 1], [1, 0], num_classes=4).shape == (4, 4)
    with pytest.raises(ValueError, match="out of range for num_classes=2"):
        confusion_matrix([0, 3], [0, 1], num_classes=2)
    with pytest.raises(ValueError, match=r"same length.*\(3,\) and \(2,\)"):
        confusion_matrix([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="class labels"):
        confusion_matrix([0.5, 1.0], [0, 1])


def test_plot_confusion_matrix_numbers_every_nonzero_cell(plt):
    counts = np.array([[5, 1], [0, 7]])
    fig = plot_confusion_matrix(counts, labels=["cat", "dog"], title="pets")
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts if t.get_text()) == ["1", "5", "7"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"]
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    fig = plot_confusion_matrix(counts, normalize=True)
    assert "0.83" in [t.get_text() for t in fig.axes[0].texts]


def test_plot_history_takes_the_dict_or_the_history_itself(plt):
    history = fitted_history()
    for record in (history, history.history):
        fig = plot_history(record, metrics="loss")
        assert lines(fig.axes[0])["loss"] == ([1, 2, 3], [1.2, 0.8, 0.5])
    with pytest.raises(TypeError, match="expected a History or a dict"):
        plot_history([1.0, 0.5])
