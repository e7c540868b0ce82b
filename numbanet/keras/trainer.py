"""``compile``, ``fit``, ``evaluate`` and ``predict``: the training loop of a Keras model.

``fit`` is the loop a PyTorch user writes by hand, run for you::

    for epoch in range(epochs):
        shuffle x and y (one gather each, on the device)
        for each batch:
            clear the gradients
            y_pred = model(x_batch, training=True)     # Dropout active
            loss = loss_fn(y_batch, y_pred)            # the batch mean
            loss.backward()
            optimizer step
        evaluate on the validation data, if any

Losses and metrics stay on the device while an epoch runs and are read once at
its end (or when a progress line is drawn), so a GPU never waits for the host at
every step. The reported values are means over the epoch's samples, as in Keras.

Under ``mpirun -n K`` (see ``numbanet.distributed``) ``fit`` trains data-parallel,
unchanged for the caller: the ranks start from rank 0's weights, each epoch's
order is drawn on rank 0, each rank trains on every K-th sample of it with batches
of ``batch_size`` (so one step is the step of one process with batches of
K·``batch_size``), gradients are summed over the ranks before each update, the
epoch's loss, metrics and validation values are means over all ranks' samples, and
only rank 0 prints progress and writes checkpoints and logs. ``evaluate``,
``predict`` and the ``*_on_batch`` methods stay local to the rank that calls them.

When the last layer ends with a softmax and the loss is a categorical
cross-entropy, the loss is computed from that layer's logits with ``log_softmax``
(see ``keras.losses``); the model's outputs (``predict``) are still probabilities.
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import dtypes as _dt
from ..autograd import no_grad, ops
from ..distributed import data_parallel as _dp
from ..distributed import runtime as _dist
from ..tensor import Tensor
from . import data as _data
from . import losses, optimizers
from . import metrics as _metrics
from .callbacks.callback import CallbackList, LazyLogs
from .callbacks.history import History
from .callbacks.progbar_logger import ProgbarLogger


class Outputs:
    """A model's output for a batch: probabilities, or the logits of a final softmax
    (then the probabilities are computed only if something asks for them)."""

    __slots__ = ("logits", "_probs")

    def __init__(self, probs=None, logits=None):
        self._probs, self.logits = probs, logits

    @property
    def probs(self):
        if self._probs is None:
            self._probs = ops.softmax(self.logits, -1)
        return self._probs


class EpochMeans:
    """Running means of the loss and the metrics over the samples seen so far.

    ``add`` keeps each batch's values as 0-d tensors on the device; ``result`` reads
    the new ones (a single pass, however often it is called) and returns the means.
    Each value has its own count, as in Keras: a metric that returns one value per
    batch instead of one per sample counts each batch once.
    """

    def __init__(self, names: list):
        self.names = names
        self._pending: list = []
        self._totals = [0.0] * len(names)
        self._counts = [0] * len(names)

    def add(self, n: int, loss, metric_sums: list) -> None:
        """``loss`` is the batch mean (weighted by ``n``); metrics are (sum, count) pairs
        (``Metric.batch_sum``)."""
        self._pending.append((n, loss, metric_sums))

    def result(self) -> dict:
        totals, counts = self._totals, self._counts
        for n, loss, sums in self._pending:
            totals[0] += float(loss.item()) * n
            counts[0] += n
            for i, (total, count) in enumerate(sums, 1):
                totals[i] += float(total.item())
                counts[i] += count
        self._pending = []
        return self._means(totals, counts)

    def _means(self, totals, counts) -> dict:
        return dict(sorted((name, float(total) / max(count, 1))
                           for name, total, count in zip(self.names, totals, counts)))

    def result_over_ranks(self, world) -> dict:
        """The means over the samples of every rank (a collective: all ranks call it)."""
        self.result()
        k = len(self.names)
        sums = _dp.sum_over_ranks(world, self._totals + self._counts)
        return self._means(sums[:k], sums[k:])


# Keras 3 arguments of fit that numbanet does not implement
_UNSUPPORTED = {
    "class_weight": "repeat the samples of rare classes instead (np.repeat), or write the "
                    "loop by hand with a weighted loss",
    "sample_weight": "repeat or drop samples instead, or write the loop by hand with a "
                     "weighted loss",
    "steps_per_epoch": "give fit the arrays of one epoch",
    "validation_steps": "give validation_data the samples to evaluate",
}


def _verbosity(verbose) -> int:
    if isinstance(verbose, str) and verbose == "auto":
        return 1
    if isinstance(verbose, bool) or not isinstance(verbose, (int, np.integer)) or \
            verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


class Trainer:
    """The training half of ``Sequential``: everything after the layers are stacked."""

    def _init_trainer(self):
        self.optimizer = None
        self.loss = None
        self._loss_fn = None
        self._metric_ids: list = []
        self.compiled = False
        self.stop_training = False
        self.history = None

    # ---- compile ----------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None) -> None:
        """Choose the optimizer, the loss and the metrics to report.

        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
        ...               metrics=["accuracy"])

        ``optimizer``: a name (``'sgd'``, ``'adam'``, ``'rmsprop'``, with Keras's
        defaults) or a ``keras.optimizers`` instance. ``loss``: a name from
        ``keras.losses`` or a function ``f(y_true, y_pred)``. ``metrics``: a list of
        names (``'accuracy'``, ``'mae'``...) or functions.
        """
        if loss is None:
            raise ValueError("compile: a loss is needed, e.g. loss='mse' for regression or "
                             "loss='sparse_categorical_crossentropy' for integer class labels")
        self.optimizer = optimizers.get(optimizer)
        self._loss_fn = losses.get(loss)
        self.loss = loss
        if metrics is None:
            metrics = []
        elif not isinstance(metrics, (list, tuple)):
            metrics = [metrics]  # one name or function (anything else: check() says so)
        metrics = list(metrics)
        for m in metrics:
            _metrics.check(m)
        self._metric_ids = metrics
        self.compiled = True

    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise ValueError(f"You must call compile() before {what}(), e.g. "
                             "model.compile(optimizer='adam', loss='mse')")

    # ---- data ---------------------------------------------------------------------------------
    def _inputs(self, x, where: str, what: str = "x"):
        """``x`` as a tensor of the model's dtype on its device, with the model's rank and
        at least one sample; builds the model."""
        if not self.layers:
            raise ValueError(f"{where}: the model {self.name!r} has no layers; add some with "
                             "model.add(keras.layers.Dense(...)) first")
        x = _data.as_tensor(x, self._dtype, self._model_device(), what)
        if not self.built:
            self.build((None,) + tuple(x.shape[1:]))
        x = self._with_input_rank(x, where, what)
        _data.check_samples(x, where, what)
        return x

    def _with_input_rank(self, x, where: str, what: str = "x"):
        """Keras 3's rule for inputs whose rank is not the model's: a trailing axis of 1
        is dropped, or added where the model's input ends with one; any other rank is
        refused (a 1-D array is not one sample: it would be read as a batch)."""
        expected = self._build_input_shape
        if expected is None or x.ndim == len(expected):
            return x
        if x.ndim == len(expected) + 1 and x.shape[-1] == 1:
            return x.reshape(tuple(x.shape[:-1]))
        if x.ndim == len(expected) - 1 and expected[-1] == 1:
            return x.reshape(tuple(x.shape) + (1,))
        raise ValueError(f"{where}: invalid input shape for the model: expected shape "
                         f"{expected}, but {what} has incompatible shape "
                         f"{tuple(x.shape)}. Give one row per sample, shaped like the model's "
                         "input (a single sample x as x.reshape(1, -1) or x[None])")

    def _targets(self, y, n: int, where: str):
        """``y`` as the loss expects it, after checking it against the model's output."""
        loss = self._loss_fn
        if not loss.sparse_targets:
            y = _data.as_tensor(y, self._dtype, self._model_device(), "y")
        elif isinstance(y, Tensor):  # checked (a scalar?) and cut from any graph
            y = _data.as_tensor(y, y.dtype, y.device, "y")
        else:  # labels are checked on the host before any cast
            y = _data.as_array(y, "y")
        _data.check_same_length(n, y, where)
        out_shape = self._output_shape
        if loss.sparse_targets:
            return self._class_labels(y, out_shape, where)
        if out_shape is None:
            return y
        classes = out_shape[-1]
        labels = y.ndim < len(out_shape) or (y.shape[-1] == 1 and classes not in (None, 1))
        if isinstance(loss, losses.CategoricalCrossentropy) and labels:
            raise losses.one_hot_error(f"{where}: ", (n,) + tuple(out_shape[1:]),
                                       tuple(y.shape))
        if y.ndim == len(out_shape) - 1 and classes == 1:
            y = y.reshape(tuple(y.shape) + (1,))
        if tuple(y.shape[1:]) != tuple(out_shape[1:]) and \
                type(loss) in (losses.MeanSquaredError, losses.MeanAbsoluteError,
                               losses.BinaryCrossentropy, losses.CategoricalCrossentropy):
            raise ValueError(f"{where}: y has shape {tuple(y.shape)} but the model's output has "
                             f"shape {tuple(out_shape)}; {loss.name} needs targets shaped like "
                             "the output")
        return y

    def _class_labels(self, y, out_shape, where: str):
        """Integer labels (a NumPy array or a tensor) checked against the model's output
        and returned as an int64 tensor on the model's device."""
        name = self._loss_fn.name
        if out_shape is not None:
            if y.ndim == len(out_shape) and y.shape[-1] == 1:
                y = y.reshape(tuple(y.shape[:-1]))
            if y.ndim != len(out_shape) - 1:
                one_hot = y.ndim == len(out_shape) and y.shape[-1] == out_shape[-1]
                raise ValueError(
                    f"{where}: {name} expects integer class labels of shape "
                    f"{tuple(y.shape[:1]) + tuple(out_shape[1:-1])}, one per "
                    f"prediction, but y has shape {tuple(y.shape)}"
                    + (", which looks one-hot. Use loss='categorical_crossentropy', or give "
                       "y.argmax(axis=-1)" if one_hot else ""))
        _data.check_class_labels(y.cpu().numpy() if isinstance(y, Tensor) else y,
                                 None if out_shape is None else out_shape[-1],
                                 f"{where}: {name}", "output units in the model")
        return _data.as_tensor(y, _dt.int64, self._model_device(), "y")

    def _resolve_metrics(self, y) -> list:
        return [_metrics.get(m, tuple(y.shape), self._output_shape) for m in self._metric_ids]

    # ---- one step -----------------------------------------------------------------------------
    @property
    def _fuses_softmax(self) -> bool:
        layers = self.layers
        return bool(self._loss_fn.softmax_logits and layers and layers[-1].ends_with_softmax)

    def _outputs(self, x, training: bool, fuse: bool) -> Outputs:
        if not fuse:
            return Outputs(probs=self.call(x, training=training))
        layers = self.layers
        for layer in layers[:-1]:
            x = layer(x, training=training)
        last = layers[-1]
        return Outputs(logits=last.call_logits(last.accept(x)))

    def _loss(self, y, out: Outputs):
        if out.logits is not None:
            return self._loss_fn.from_softmax_logits(y, out.logits)
        return self._loss_fn(y, out.probs)

    @staticmethod
    def _metric_sums(metric_list, y, out: Outputs) -> list:
        """(sum, count) of each metric over the batch."""
        with no_grad():
            return [m.batch_sum(y, out.logits if (m.argmax_only and out.logits is not None)
                                else out.probs.detach()) for m in metric_list]

    def _train_step(self, x, y, params, metric_list, fuse, means: EpochMeans,
                    reducer=None, weight: float = 1.0) -> None:
        """One step; with a ``reducer`` (several ranks) the gradients are summed over the
        ranks first, this rank's weighted by ``weight``, its share of the global batch.
        A rank whose share of the batch is empty still joins the sum and the update."""
        for p in params:
            p.grad = None
        computes = reducer is None or x.shape[0] > 0
        if computes:
            out = self._outputs(x, True, fuse)
            loss = self._loss(y, out)
            if loss.requires_grad:
                loss.backward()
            elif params:  # Keras 3: "No gradients provided for any variable"
                raise ValueError(f"No gradients provided for any variable: the loss "
                                 f"{self._loss_fn.name!r} does not depend on the model's "
                                 "weights. Compute it from y_pred with tensor operations (not "
                                 "from constants, .detach() or NumPy)")
            else:
                warnings.warn("The model does not have any trainable weights: the loss is "
                              "computed, nothing is updated", stacklevel=3)
        if reducer is not None:
            reducer.reduce(params, weight)
        self.optimizer.step_on_grads(params)
        if computes:
            means.add(x.shape[0], loss.detach(), self._metric_sums(metric_list, y, out))

    # ---- fit ----------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size: int | None = None, epochs: int = 1,
            verbose="auto", callbacks=None, validation_split: float = 0.0,
            validation_data=None, shuffle: bool | str = True, initial_epoch: int = 0,
            validation_batch_size: int | None = None, validation_freq: int | list = 1,
            device=None, **kwargs) -> History:
        """Train the model on arrays ``x`` and ``y`` for ``epochs`` passes.

        >>> history = model.fit(x_train, y_train, epochs=30, batch_size=32,
        ...                     validation_split=0.2)
        >>> history.history["val_accuracy"][-1]

        Args:
            batch_size: samples per gradient step (None: 32); under ``mpirun -n K``,
                samples per rank, so that a step sees K·batch_size samples.
            verbose: 'auto' or 1 (a progress line per epoch), 2 (one line per epoch),
                0 (silent).
            callbacks: ``keras.callbacks`` to run during training.
            validation_split: the fraction of the data, taken from its *end* before
                shuffling, kept aside to evaluate after each epoch.
            validation_data: ``(x_val, y_val)`` to evaluate after each epoch instead.
            shuffle: reshuffle the training data before each epoch (reproducibly after
                ``nb.manual_seed``); ``'batch'`` shuffles within each batch only.
            initial_epoch: the epoch to start from (to resume a run).
            validation_freq: validate every ``validation_freq`` epochs, or after the
                epochs (counted from 1) of a list, e.g. ``[5, 10]``.
            device: 'cpu' or 'cuda': move the model there first; the data follow.

        Returns the ``History``. The Keras 1 argument ``nb_epoch`` is accepted with
        a DeprecationWarning.
        """
        if "nb_epoch" in kwargs:
            nb_epoch = kwargs.pop("nb_epoch")
            warnings.warn(f"fit(nb_epoch={nb_epoch}) is the Keras 1 name; use "
                          f"fit(epochs={nb_epoch})", DeprecationWarning, stacklevel=2)
            epochs = nb_epoch
        unsupported = sorted(set(kwargs) & set(_UNSUPPORTED))
        if unsupported:
            raise TypeError(f"fit(): the Keras argument {unsupported[0]} is not supported by "
                            f"numbanet; {_UNSUPPORTED[unsupported[0]]}")
        if kwargs:
            raise TypeError(f"fit() got unexpected keyword argument(s) {sorted(kwargs)}")
        self._require_compiled("fit")
        verbose = _verbosity(verbose)
        world = _dist.active_world()
        if world is not None and world.rank != 0:
            verbose = 0  # only rank 0 prints
        epochs = _data.check_count(epochs, "fit: epochs")
        initial_epoch = _data.check_count(initial_epoch, "fit: initial_epoch")
        batch_size = _data.check_batch_size(batch_size)
        val_batch = _data.check_batch_size(validation_batch_size, batch_size,
                                           "validation_batch_size")
        validation_split = _data.check_validation_split(validation_split)
        validation_freq = _data.check_validation_freq(validation_freq)
        shuffle = _data.check_shuffle(shuffle)
        if world is not None and shuffle == "batch":
            raise ValueError("fit: shuffle='batch' is not supported under mpirun (the ranks "
                             "share one order of the whole epoch); use shuffle=True or False")
        if device is not None:
            self.to(device)
        x = self._inputs(x, "fit")
        y = self._targets(y, x.shape[0], "fit")
        if validation_data is not None:
            x_val, y_val = self._validation_data(validation_data)
        elif validation_split:
            (x, y), (x_val, y_val) = _data.split_validation(x, y, validation_split)
        else:
            x_val = y_val = None

        params = self.trainable_weights
        metric_list = self._resolve_metrics(y)
        names = ["loss"] + [m.name for m in metric_list]
        fuse = self._fuses_softmax
        reducer = None
        if world is not None:
            from ..distributed.collectives import broadcast_parameters, check_same_on_all_ranks
            from ..distributed.reducer import GradientReducer
            check_same_on_all_ranks(
                world, "fit (under mpirun every rank passes the whole training set, and fit "
                "gives each rank its share)",
                (tuple(x.shape), tuple(y.shape), batch_size, epochs, bool(shuffle)),
                lambda s: f"x shape {s[0]}, y shape {s[1]}, batch_size={s[2]}, epochs={s[3]}, "
                          f"shuffle={s[4]}")
            broadcast_parameters(self, root=0)
            reducer = GradientReducer(world)
            batches = _dp.ShardedEpochBatches(world, x, y, batch_size, shuffle)
        else:
            batches = _data.EpochBatches(x, y, batch_size, shuffle)
        run = dict(verbose=verbose, epochs=epochs, steps=batches.steps)
        callbacks = CallbackList(callbacks, self, **run)
        # A callback may stop training in a batch hook on one rank; the ranks then agree
        # after every step, so that none waits alone in the next step's allreduce.
        sync_stop_each_step = world is not None and callbacks.wants["train_batch"]
        self.history = History()
        callbacks.append(self.history, self, **run)
        if verbose:
            callbacks.append(ProgbarLogger(), self, **run)
        batch_hooks = callbacks.wants["train_batch"]
        device = self._model_device()

        self.stop_training = False
        logs = {}
        callbacks.call("on_train_begin", {})
        for epoch in range(initial_epoch, epochs):
            callbacks.call("on_epoch_begin", epoch, {})
            means = EpochMeans(names)
            for step, (xb, yb, weight) in enumerate(batches.epoch(device)):
                if batch_hooks:
                    callbacks.call("on_train_batch_begin", step, {})
                self._train_step(xb, yb, params, metric_list, fuse, means, reducer, weight)
                if batch_hooks:
                    # under mpirun, batch logs are this rank's running means: no collective
                    callbacks.call("on_train_batch_end", step, LazyLogs(means.result))
                if sync_stop_each_step:
                    self.stop_training = _dp.any_rank(world, self.stop_training)
                if self.stop_training:
                    break
            logs = means.result() if world is None else means.result_over_ranks(world)
            if x_val is not None and _data.validates_after(epoch, validation_freq):
                val_logs = self._evaluate_tensors(x_val, y_val, val_batch, metric_list, fuse,
                                                  callbacks, world)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            callbacks.call("on_epoch_end", epoch, logs)
            if world is not None:
                self.stop_training = _dp.any_rank(world, self.stop_training)
            if self.stop_training:
                break
        callbacks.call("on_train_end", logs)
        return self.history

    def _validation_data(self, data):
        """Keras's ``validation_data``: ``(x_val, y_val)``, or ``(x_val, y_val, None)``."""
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3) or \
                (len(data) == 3 and data[2] is not None):
            kind = f"a {type(data).__name__} of {len(data)}" if isinstance(data, (tuple, list)) \
                else f"a {type(data).__name__}"
            raise ValueError(f"fit: validation_data must be (x_val, y_val), got {kind}"
                             + (" (sample weights are not supported by numbanet)"
                                if isinstance(data, (tuple, list)) and len(data) == 3 else ""))
        x_val = self._inputs(data[0], "fit (validation_data)", "x_val")
        return x_val, self._targets(data[1], x_val.shape[0], "fit (validation_data)")

    # ---- evaluate -----------------------------------------------------------------------------
    def _evaluate_tensors(self, x, y, batch_size, metric_list, fuse, callbacks,
                          world=None) -> dict:
        """Means over ``x``; with a ``world`` (validation in a distributed ``fit``) each rank
        evaluates its own contiguous K-th of the rows and the sums are added up."""
        means = EpochMeans(["loss"] + [m.name for m in metric_list])
        if world is not None:
            n = x.shape[0]
            first, last = n * world.rank // world.size, n * (world.rank + 1) // world.size
            x, y = _data.rows(x, first, last), _data.rows(y, first, last)
        batch_hooks = callbacks.wants["test_batch"]
        callbacks.call("on_test_begin", {})
        with no_grad():
            for step, (start, stop) in enumerate(_data.batch_bounds(x.shape[0], batch_size)):
                if batch_hooks:
                    callbacks.call("on_test_batch_begin", step, {})
                xb, yb = _data.rows(x, start, stop), _data.rows(y, start, stop)
                out = self._outputs(xb, False, fuse)
                means.add(stop - start, self._loss(yb, out),
                          self._metric_sums(metric_list, yb, out))
                if batch_hooks:
                    callbacks.call("on_test_batch_end", step, LazyLogs(means.result))
        logs = means.result() if world is None else means.result_over_ranks(world)
        callbacks.call("on_test_end", logs)
        return logs

    def evaluate(self, x=None, y=None, batch_size: int | None = None, verbose="auto",
                 callbacks=None, return_dict: bool = False):
        """The loss (and metrics) on ``x``, ``y``, in inference mode.

        Returns the loss as a float when no metrics were compiled, else the list
        ``[loss, *metrics]`` in the order given to ``compile``; with
        ``return_dict=True``, a dict by name.
        """
        self._require_compiled("evaluate")
        verbose = _verbosity(verbose)
        batch_size = _data.check_batch_size(batch_size)
        x = self._inputs(x, "evaluate")
        y = self._targets(y, x.shape[0], "evaluate")
        metric_list = self._resolve_metrics(y)
        steps = len(_data.batch_bounds(x.shape[0], batch_size))
        run = dict(verbose=verbose, epochs=1, steps=steps)
        callbacks = CallbackList(callbacks, self, **run)
        if verbose:
            callbacks.append(ProgbarLogger(), self, **run)
        logs = self._evaluate_tensors(x, y, batch_size, metric_list, self._fuses_softmax,
                                      callbacks)
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[m.name] for m in metric_list]
        return values[0] if len(values) == 1 else values

    # ---- predict ------------------------------------------------------------------------------
    def predict(self, x, batch_size: int | None = None, verbose="auto",
                callbacks=None) -> np.ndarray:
        """The model's outputs for ``x`` (inference mode), as a NumPy array."""
        verbose = _verbosity(verbose)
        batch_size = _data.check_batch_size(batch_size)
        x = self._inputs(x, "predict")
        bounds = _data.batch_bounds(x.shape[0], batch_size)
        run = dict(verbose=verbose, epochs=1, steps=len(bounds))
        callbacks = CallbackList(callbacks, self, **run)
        if verbose:
            callbacks.append(ProgbarLogger(), self, **run)
        batch_hooks = callbacks.wants["predict_batch"]
        callbacks.call("on_predict_begin", {})
        outputs = []
        with no_grad():
            for step, (start, stop) in enumerate(bounds):
                if batch_hooks:
                    callbacks.call("on_predict_batch_begin", step, {})
                out = self.call(_data.rows(x, start, stop), training=False)
                outputs.append(out)
                if batch_hooks:
                    callbacks.call("on_predict_batch_end", step, {"outputs": out})
        callbacks.call("on_predict_end", {})
        joined = outputs[0] if len(outputs) == 1 else ops.cat(outputs, 0)
        return joined.cpu().numpy().copy()

    # ---- single batches -------------------------------------------------------------------------
    def train_on_batch(self, x, y, return_dict: bool = False):
        """One gradient step on one batch; returns its loss (and metrics)."""
        self._require_compiled("train_on_batch")
        x = self._inputs(x, "train_on_batch")
        y = self._targets(y, x.shape[0], "train_on_batch")
        metric_list = self._resolve_metrics(y)
        means = EpochMeans(["loss"] + [m.name for m in metric_list])
        self._train_step(x, y, self.trainable_weights, metric_list, self._fuses_softmax, means)
        return self._batch_result(means.result(), metric_list, return_dict)

    def test_on_batch(self, x, y, return_dict: bool = False):
        """The loss (and metrics) of one batch, in inference mode."""
        self._require_compiled("test_on_batch")
        x = self._inputs(x, "test_on_batch")
        y = self._targets(y, x.shape[0], "test_on_batch")
        metric_list = self._resolve_metrics(y)
        logs = self._evaluate_tensors(x, y, x.shape[0], metric_list,
                                      self._fuses_softmax, CallbackList(None, self))
        return self._batch_result(logs, metric_list, return_dict)

    def predict_on_batch(self, x) -> np.ndarray:
        x = self._inputs(x, "predict_on_batch")
        with no_grad():
            return self.call(x, training=False).cpu().numpy().copy()

    @staticmethod
    def _batch_result(logs, metric_list, return_dict):
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[m.name] for m in metric_list]
        return values[0] if len(values) == 1 else values

