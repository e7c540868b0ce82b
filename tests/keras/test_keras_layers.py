"""Keras layers: Dense's kernel layout and initial distribution, lazy building, input
checks that name the layer, activations, Dropout only in training, names, summary()."""
import math

import numpy as np
import pytest

import numbanet as nb
from numbanet import keras
from numbanet.keras import activations, initializers, layers


def test_dense_kernel_is_in_by_units_glorot_uniform_and_bias_zeros():
    nb.manual_seed(0)
    layer = layers.Dense(200)
    y = layer(np.zeros((2, 300), dtype=np.float32))
    assert y.shape == (2, 200) and layer.built
    kernel, bias = layer.get_weights()
    assert kernel.shape == (300, 200) and kernel.dtype == np.float32
    assert bias.shape == (200,) and not bias.any()
    limit = math.sqrt(6 / (300 + 200))  # Keras: GlorotUniform = U(-limit, limit)
    assert kernel.min() >= -limit and kernel.max() <= limit
    assert abs(kernel.mean()) < 5 * limit / math.sqrt(3 * kernel.size)
    assert kernel.var() == pytest.approx(limit ** 2 / 3, rel=0.03)
    # nearly the whole range is used, and it is not a normal distribution
    assert kernel.min() < -0.99 * limit and kernel.max() > 0.99 * limit


def test_dense_computes_activation_of_x_kernel_plus_bias():
    layer = layers.Dense(3, activation="tanh", dtype="float64")
    x = np.random.default_rng(0).standard_normal((4, 5))
    y = layer(x)
    kernel, bias = layer.get_weights()
    np.testing.assert_allclose(y.detach().numpy(), np.tanh(x @ kernel + bias), rtol=1e-12)
    assert layer.count_params() == 5 * 3 + 3


@pytest.mark.parametrize("name,fn", [
    ("relu", lambda v: np.maximum(v, 0)), ("sigmoid", lambda v: 1 / (1 + np.exp(-v))),
    ("tanh", np.tanh), ("linear", lambda v: v), (None, lambda v: v),
    ("softmax", lambda v: np.exp(v) / np.exp(v).sum(-1, keepdims=True)),
    ("elu", lambda v: np.where(v > 0, v, np.exp(v) - 1)),
    ("softplus", lambda v: np.log1p(np.exp(v))), ("softsign", lambda v: v / (1 + abs(v))),
    ("leaky_relu", lambda v: np.where(v > 0, v, 0.2 * v)), ("silu", lambda v: v / (1 + np.exp(-v))),
])
def test_activation_layer_matches_the_formula(name, fn):
    x = np.random.default_rng(1).standard_normal((3, 4))
    out = layers.Activation(name, dtype="float64")(nb.tensor(x))
    np.testing.assert_allclose(out.numpy(), fn(x), rtol=1e-10, atol=1e-12)


def test_activation_accepts_a_callable_and_rejects_unknown_names():
    double = layers.Activation(lambda t: t * 2)
    assert double(nb.ones(2)).tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="Unknown activation 'relux'.*'relu'"):
        layers.Dense(3, activation="relux")


def test_dropout_is_active_only_when_training():
    nb.manual_seed(0)
    drop = layers.Dropout(0.5)
    x = nb.ones(1000)
    assert drop(x).tolist() == x.tolist()                    # inference: the identity
    y = drop(x, training=True).numpy()
    assert set(np.unique(y)) == {0.0, 2.0}                   # kept values scaled by 1/(1-rate)
    assert 0.4 < (y == 0).mean() < 0.6
    with pytest.raises(ValueError, match="between 0 and 1"):
        layers.Dropout(1.5)


def test_flatten_keeps_the_batch_axis():
    out = layers.Flatten()(nb.zeros(2, 3, 4))
    assert out.shape == (2, 12)
    assert layers.Flatten().compute_output_shape((None, 3, 4)) == (None, 12)


def test_layer_names_are_unique_per_session_like_keras():
    keras.backend.clear_session()
    names = [layers.Dense(1).name, layers.Dense(1).name, layers.Activation("relu").name,
             keras.Sequential().name, layers.Dense(1, name="out").name]
    assert names == ["dense", "dense_1", "activation", "sequential", "out"]


def test_a_built_layer_refuses_an_input_of_another_size_naming_itself_and_both_shapes():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3, name="hidden")])
    with pytest.raises(ValueError) as err:
        model.predict(np.zeros((10, 5)), verbose=0)
    message = str(err.value)
    assert "Dense 'hidden' expects inputs with last dimension 4, got shape (10, 5)" in message
    assert "(None, 4)" in message


def test_input_builds_the_model_at_once_and_shapes_flow_through():
    model = keras.Sequential([layers.Input(shape=(8,)), layers.Dense(4), layers.Dropout(0.2),
                              layers.Dense(2)])
    assert model.built and model.input_shape == (None, 8) and model.output_shape == (None, 2)
    assert [len(layer.weights) for layer in model.layers] == [2, 0, 2]
    assert keras.Input((8,)).shape == (None, 8)
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "Dropout", "Dense"]


def test_unbuilt_model_builds_at_its_first_call_on_the_inputs_device():
    model = keras.Sequential([layers.Dense(4), layers.Dense(2)])
    assert not model.built and model.weights == []
    out = model(np.ones((3, 7)))
    assert out.shape == (3, 2) and model.input_shape == (None, 7)
    assert model.layers[0].kernel.shape == (7, 4)
    assert all(isinstance(p, nb.nn.Parameter) for p in model.weights)
    assert len(list(model.parameters())) == 4       # it is an nn.Module too


def test_summary_prints_names_types_shapes_and_parameter_counts():
    keras.backend.clear_session()
    model = keras.Sequential([keras.Input((64,)), layers.Dense(64, activation="relu"),
                              layers.Dense(10, activation="softmax")])
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert lines[0] == 'Model: "sequential"'
    assert "Layer (type)" in text and "Output Shape" in text and "Param #" in text
    assert "dense (Dense)" in text and "dense_1 (Dense)" in text
    assert "(None, 64)" in text and "(None, 10)" in text
    assert "4,160" in text and "650" in text                        # 64*64+64, 64*10+10
    assert " Total params: 4,810 (18.79 KB)" in lines
    assert " Trainable params: 4,810 (18.79 KB)" in lines
    assert " Non-trainable params: 0 (0.00 B)" in lines
    unbuilt = []
    keras.Sequential([layers.Dense(3)]).summary(print_fn=unbuilt.append)
    assert any("?" in line and "0 (unbuilt)" in line for line in unbuilt)


def test_get_and_set_weights_round_trip_and_check_shapes():
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2), layers.Dense(1)])
    weights = [np.full(w.shape, i, dtype=np.float32) for i, w in enumerate(model.get_weights())]
    model.set_weights(weights)
    for got, want in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="has 4 weights, got 3"):
        model.set_weights(weights[:3])
    with pytest.raises(ValueError, match=r"'kernel' has shape \(3, 2\), got a value of shape "
                                         r"\(2, 3\)"):
        model.set_weights([weights[0].T] + weights[1:])


def test_frozen_layer_is_not_trainable():
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2), layers.Dense(1)])
    model.layers[0].trainable = False
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2
    model.compile("sgd", "mse")
    before = model.layers[0].get_weights()
    model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=2, verbose=0)
    for a, b in zip(before, model.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)


def test_initializers_follow_keras_formulas():
    rng_shape = (400, 600)
    for name, variance in [("he_uniform", 2 / 400), ("he_normal", 2 / 400),
                           ("glorot_normal", 2 / 1000), ("lecun_uniform", 1 / 400)]:
        values = initializers.get(name).values(rng_shape)
        assert values.var() == pytest.approx(variance, rel=0.05), name
    seeded = initializers.GlorotUniform(seed=3)
    np.testing.assert_array_equal(seeded.values((4, 4)), seeded.values((4, 4)))
    assert activations.get(None) is activations.linear


def test_keras_1_and_2_input_sizes_build_the_model_and_are_checked():
    with pytest.warns(DeprecationWarning, match=r"keras.Input\(shape=\(3,\)\)"):
        first = layers.Dense(4, input_dim=3)
    model = keras.Sequential([first])
    assert model.built and model.input_shape == (None, 3)
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError) as err:
        model.add(layers.Dense(2, input_dim=5, name="second"))
    assert "Dense 'second' was declared with input shape (None, 5) but receives inputs of " \
           "shape (None, 4)" in str(err.value)
    assert [layer.name for layer in model.layers] == [first.name]   # not added
    with pytest.warns(UserWarning, match="prefer starting the model with keras.Input"):
        model = keras.Sequential([layers.Dense(2, input_shape=(7,))])
    assert model.input_shape == (None, 7)


def test_gradients_flow_back_to_the_inputs_of_a_direct_call():
    model = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
    x = nb.randn(4, 3, requires_grad=True)
    model(x).sum().backward()
    kernel = model.layers[0].kernel.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), np.tile(kernel.sum(1), (4, 1)), rtol=1e-6)


def test_a_sequential_model_nests_as_a_layer():
    inner = keras.Sequential([layers.Dense(4), layers.Dense(3)])
    outer = keras.Sequential([keras.Input((5,)), inner, layers.Dense(1)])
    assert outer.output_shape == (None, 1) and inner.output_shape == (None, 3)
    assert len(outer.weights) == 6 and outer.predict(np.ones((2, 5)), verbose=0).shape == (2, 1)


def test_layers_cast_float_inputs_to_their_own_precision_like_keras_autocast():
    model = keras.Sequential([keras.Input((3,), dtype="float64"), layers.Dense(2)])
    out = model.predict(np.ones((2, 3)), verbose=0)
    assert out.dtype == np.float32
    layer = layers.Dense(2, dtype="float64")
    assert layer(nb.ones(1, 3)).dtype is nb.float64


def test_a_custom_layer_builds_lazily_and_trains():
    class Scale(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, x):
            return x * self.w

    model = keras.Sequential([Scale(), layers.Dense(1, kernel_initializer="ones")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
    x = np.random.default_rng(0).standard_normal((16, 2))
    history = model.fit(x, x @ np.array([[2.0], [-1.0]]), epochs=20, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] / 2
    scale = model.layers[0]
    assert [name for name, _ in scale.named_parameters()] == ["w"] and scale.w.shape == (2,)


def test_non_trainable_weights_are_counted_apart_and_not_trained():
    class WithState(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
            self.seen = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                        name="seen")

        def call(self, x):
            return x * self.w

    layer = WithState()
    model = keras.Sequential([keras.Input((3,)), layer])
    assert model.trainable_weights == [layer.w] and model.non_trainable_weights == [layer.seen]
    lines = []
    model.summary(print_fn=lines.append)
    assert " Trainable params: 3 (12.00 B)" in lines and " Non-trainable params: 1 (4.00 B)" \
        in lines
    layer.trainable = False
    layer.trainable = True
    assert not layer.seen.requires_grad and layer.w.requires_grad
