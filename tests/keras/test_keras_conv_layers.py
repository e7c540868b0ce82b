"""Keras image layers: Conv2D, MaxPooling2D, AveragePooling2D and BatchNormalization.

Shapes and values follow Keras 3 (checked against Keras 3.15 with the torch backend,
whose numbers these NumPy references reproduce): channels-last images by default, a
Conv2D kernel of shape (kh, kw, in_channels / groups, filters), TensorFlow's 'same'
padding (the odd pixel after the image), pooling that never counts padding, and
BatchNormalization's moving statistics ``moving * momentum + batch * (1 - momentum)``
with the biased batch variance.
"""
import time

import numpy as np
import pytest

import numbanet as nb
from numbanet import keras
from numbanet.autograd import gradcheck
from numbanet.demo import digits_split
from numbanet.keras import layers
from numbanet.keras.layers import (
    AveragePooling2D,
    BatchNormalization,
    Conv2D,
    Dense,
    Flatten,
    Input,
    MaxPooling2D,
)


# ---- NumPy references ------------------------------------------------------------------------
def tf_padding(size, kernel, stride, dilation=1):
    """(output size, padding before) of TensorFlow's 'same' along one axis."""
    reach = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + reach - size, 0)
    return out, total // 2


def conv_reference(x, kernel, bias, strides=(1, 1), padding="valid", dilation=(1, 1),
                   groups=1):
    """Direct convolution of channels-last ``x`` (n, h, w, c), one output pixel at a time."""
    n, h, w, _ = x.shape
    kh, kw, c_group, filters = kernel.shape
    reach = ((kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1)
    if padding == "same":
        (oh, top), (ow, left) = tf_padding(h, kh, strides[0], dilation[0]), \
            tf_padding(w, kw, strides[1], dilation[1])
        x = np.pad(x, ((0, 0), (top, h + 2 * kh * dilation[0]), (left, w + 2 * kw * dilation[1]),
                       (0, 0)))
    else:
        oh = (h - reach[0]) // strides[0] + 1
        ow = (w - reach[1]) // strides[1] + 1
    per_group = filters // groups
    out = np.zeros((n, oh, ow, filters))
    for i in range(oh):
        for j in range(ow):
            r, c = i * strides[0], j * strides[1]
            for f in range(filters):
                g = f // per_group
                patch = x[:, r:r + reach[0]:dilation[0], c:c + reach[1]:dilation[1],
                          g * c_group:(g + 1) * c_group]
                out[:, i, j, f] = np.einsum("nabc,abc->n", patch, kernel[..., f]) + bias[f]
    return out


def pool_reference(x, pool, strides, padding, reduce):
    """Pooling of channels-last ``x`` where padded pixels take no part in a window."""
    n, h, w, c = x.shape
    if padding == "same":
        (oh, top), (ow, left) = tf_padding(h, pool[0], strides[0]), \
            tf_padding(w, pool[1], strides[1])
    else:
        oh, ow, top, left = (h - pool[0]) // strides[0] + 1, (w - pool[1]) // strides[1] + 1, 0, 0
    out = np.zeros((n, oh, ow, c))
    for i in range(oh):
        for j in range(ow):
            r, s = i * strides[0] - top, j * strides[1] - left
            window = x[:, max(r, 0):r + pool[0], max(s, 0):s + pool[1], :]
            out[:, i, j, :] = reduce(window, axis=(1, 2))
    return out


def to_last(a):
    return np.transpose(a, (0, 2, 3, 1))


# ---- shapes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,input_shape,expected", [
    (dict(filters=4, kernel_size=3), (2, 8, 7, 3), (2, 6, 5, 4)),
    (dict(filters=4, kernel_size=3, padding="same"), (2, 8, 7, 3), (2, 8, 7, 4)),
    (dict(filters=4, kernel_size=(2, 3), strides=2), (2, 8, 7, 3), (2, 4, 3, 4)),
    (dict(filters=4, kernel_size=3, strides=2, padding="same"), (2, 8, 7, 3), (2, 4, 4, 4)),
    (dict(filters=4, kernel_size=4, strides=(2, 3), padding="same"), (2, 9, 8, 3),
     (2, 5, 3, 4)),
    (dict(filters=4, kernel_size=3, dilation_rate=2), (2, 8, 7, 3), (2, 4, 3, 4)),
    (dict(filters=6, kernel_size=3, groups=3), (2, 8, 7, 3), (2, 6, 5, 6)),
    (dict(filters=4, kernel_size=3, data_format="channels_first"), (2, 3, 8, 7), (2, 4, 6, 5)),
    (dict(filters=4, kernel_size=3, strides=2, padding="same", data_format="channels_first"),
     (2, 3, 8, 7), (2, 4, 4, 4)),
])
def test_conv2d_output_shape_matches_keras(kwargs, input_shape, expected):
    layer = Conv2D(**kwargs)
    y = layer(nb.zeros(input_shape))
    assert tuple(y.shape) == expected
    assert layer.compute_output_shape((None,) + input_shape[1:]) == (None,) + expected[1:]
    kh, kw = layer.kernel_size
    channels = input_shape[-1] if layer.data_format == "channels_last" else input_shape[1]
    assert tuple(layer.kernel.shape) == (kh, kw, channels // layer.groups, kwargs["filters"])


@pytest.mark.parametrize("cls,kwargs,input_shape,expected", [
    (MaxPooling2D, {}, (2, 8, 7, 3), (2, 4, 3, 3)),
    (MaxPooling2D, dict(padding="same"), (2, 8, 7, 3), (2, 4, 4, 3)),
    (MaxPooling2D, dict(pool_size=3, strides=1), (2, 8, 7, 3), (2, 6, 5, 3)),
    (MaxPooling2D, dict(pool_size=3, strides=2, padding="same"), (2, 8, 7, 3), (2, 4, 4, 3)),
    (AveragePooling2D, dict(pool_size=(2, 3)), (2, 8, 7, 3), (2, 4, 2, 3)),
    (AveragePooling2D, dict(data_format="channels_first"), (2, 3, 8, 7), (2, 3, 4, 3)),
    (AveragePooling2D, dict(padding="same", data_format="channels_first"), (2, 3, 8, 7),
     (2, 3, 4, 4)),
])
def test_pooling_output_shape_matches_keras(cls, kwargs, input_shape, expected):
    layer = cls(**kwargs)
    assert tuple(layer(nb.zeros(input_shape)).shape) == expected
    assert layer.compute_output_shape((None,) + input_shape[1:]) == (None,) + expected[1:]
    assert layer.count_params() == 0


def test_layers_take_keras_defaults_and_names():
    keras.backend.clear_session()
    conv, pool, avg, bn = Conv2D(8, 3), MaxPooling2D(), AveragePooling2D(), BatchNormalization()
    assert (conv.name, pool.name, avg.name, bn.name) == \
        ("conv2d", "max_pooling2d", "average_pooling2d", "batch_normalization")
    assert Conv2D(8, 3).name == "conv2d_1"
    assert (conv.kernel_size, conv.strides, conv.padding, conv.data_format,
            conv.dilation_rate, conv.groups, conv.use_bias) == \
        ((3, 3), (1, 1), "valid", "channels_last", (1, 1), 1, True)
    assert (pool.pool_size, pool.strides, pool.padding, pool.data_format) == \
        ((2, 2), (2, 2), "valid", "channels_last")
    assert (bn.axis, bn.momentum, bn.epsilon, bn.center, bn.scale) == (-1, 0.99, 1e-3, True, True)


def test_conv2d_kernel_is_glorot_uniform_over_the_receptive_field_and_bias_zeros():
    nb.manual_seed(0)
    conv = Conv2D(32, (5, 4))
    conv(nb.zeros(1, 9, 9, 6))
    kernel, bias = conv.get_weights()
    assert kernel.shape == (5, 4, 6, 32) and not bias.any()
    limit = np.sqrt(6 / (5 * 4 * 6 + 5 * 4 * 32))   # fan_in + fan_out, Keras's compute_fans
    assert kernel.min() >= -limit and kernel.max() <= limit
    assert kernel.var() == pytest.approx(limit ** 2 / 3, rel=0.05)


# ---- values ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,input_shape", [
    (dict(kernel_size=3), (2, 6, 5, 3)),
    (dict(kernel_size=3, padding="same"), (2, 6, 5, 3)),
    (dict(kernel_size=2, padding="same"), (2, 5, 5, 2)),                   # uneven padding
    (dict(kernel_size=(2, 3), strides=2, padding="same"), (2, 7, 6, 3)),   # uneven, strided
    (dict(kernel_size=4, strides=(2, 3), padding="same"), (1, 9, 8, 2)),
    (dict(kernel_size=3, strides=2), (2, 7, 7, 2)),
    (dict(kernel_size=3, dilation_rate=2, padding="same"), (2, 7, 7, 2)),
    (dict(kernel_size=3, groups=2, activation="relu"), (2, 6, 6, 4)),
])
def test_conv2d_matches_a_direct_convolution(kwargs, input_shape):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(input_shape)
    layer = Conv2D(4, dtype="float64", **kwargs)
    layer(x)
    kernel = rng.standard_normal(tuple(layer.kernel.shape))
    bias = rng.standard_normal(4)
    layer.set_weights([kernel, bias])
    expected = conv_reference(x, kernel, bias, layer.strides, layer.padding,
                              layer.dilation_rate, layer.groups)
    if kwargs.get("activation") == "relu":
        expected = np.maximum(expected, 0)
    np.testing.assert_allclose(layer(x).detach().numpy(), expected, rtol=1e-10, atol=1e-12)


def test_conv2d_channels_first_equals_channels_last_on_transposed_images():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 7, 6, 3))
    last = Conv2D(5, 3, strides=2, padding="same", dtype="float64")
    first = Conv2D(5, 3, strides=2, padding="same", data_format="channels_first",
                   dtype="float64")
    last(x)
    first(np.transpose(x, (0, 3, 1, 2)))
    first.set_weights(last.get_weights())
    np.testing.assert_allclose(to_last(first(np.transpose(x, (0, 3, 1, 2))).detach().numpy()),
                               last(x).detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("pool,strides,padding,input_shape", [
    ((2, 2), (2, 2), "valid", (2, 7, 6, 3)),
    ((3, 3), (2, 2), "same", (2, 7, 6, 3)),    # even padding along h, uneven along w
    ((2, 2), (1, 1), "same", (2, 5, 5, 2)),
    ((3, 2), (1, 2), "same", (1, 6, 7, 2)),
    ((3, 3), (3, 3), "valid", (1, 8, 7, 2)),
])
@pytest.mark.parametrize("cls,reduce", [(MaxPooling2D, np.max), (AveragePooling2D, np.mean)])
def test_pooling_matches_windows_that_leave_the_padding_out(cls, reduce, pool, strides,
                                                            padding, input_shape):
    x = np.random.default_rng(2).standard_normal(input_shape)
    expected = pool_reference(x, pool, strides, padding, reduce)
    layer = cls(pool, strides, padding, dtype="float64")
    np.testing.assert_allclose(layer(x).detach().numpy(), expected, rtol=1e-12)
    first = cls(pool, strides, padding, data_format="channels_first", dtype="float64")
    y = first(np.transpose(x, (0, 3, 1, 2))).detach().numpy()
    np.testing.assert_allclose(to_last(y), expected, rtol=1e-12)


@pytest.mark.parametrize("layer,shape", [
    (lambda: Conv2D(3, 2, strides=2, padding="same", dtype="float64"), (2, 5, 4, 2)),
    (lambda: Conv2D(2, 3, padding="same", data_format="channels_first", dtype="float64"),
     (2, 2, 4, 4)),
    (lambda: MaxPooling2D(3, 2, padding="same", dtype="float64"), (2, 5, 4, 2)),
    (lambda: AveragePooling2D(3, 2, padding="same", dtype="float64"), (2, 5, 4, 2)),
    (lambda: BatchNormalization(dtype="float64"), (3, 2, 2, 3)),
    (lambda: BatchNormalization(axis=2, dtype="float64"), (3, 2, 3, 2)),
])
def test_image_layer_gradients_match_central_differences(layer, shape):
    layer = layer()
    x = nb.tensor(np.random.default_rng(3).standard_normal(shape), dtype=nb.float64,
                  requires_grad=True)
    layer(x)
    assert gradcheck(lambda x, *w: layer(x, training=True), (x, *layer.trainable_weights))


# ---- BatchNormalization ----------------------------------------------------------------------
def test_batch_normalization_training_uses_batch_statistics_and_keras_moving_update():
    rng = np.random.default_rng(4)
    bn = BatchNormalization(momentum=0.9, dtype="float64")
    batches = [rng.standard_normal((6, 3, 3, 4)) * 2 + 1 for _ in range(3)]
    bn(batches[0])
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    bn.set_weights([gamma, beta, np.zeros(4), np.ones(4)])
    moving_mean, moving_var = np.zeros(4), np.ones(4)
    for x in batches:
        y = bn(x, training=True).detach().numpy()
        mean, var = x.mean((0, 1, 2)), x.var((0, 1, 2))       # biased variance
        np.testing.assert_allclose(y, gamma * (x - mean) / np.sqrt(var + 1e-3) + beta,
                                   rtol=1e-10, atol=1e-12)
        moving_mean = moving_mean * 0.9 + mean * 0.1
        moving_var = moving_var * 0.9 + var * 0.1
        _, _, got_mean, got_var = bn.get_weights()
        np.testing.assert_allclose(got_mean, moving_mean, rtol=1e-12)
        np.testing.assert_allclose(got_var, moving_var, rtol=1e-12)
    # inference (the default): the moving statistics, and nothing moves
    y = bn(batches[0]).detach().numpy()
    np.testing.assert_allclose(
        y, gamma * (batches[0] - moving_mean) / np.sqrt(moving_var + 1e-3) + beta, rtol=1e-10)
    np.testing.assert_allclose(bn.get_weights()[2], moving_mean, rtol=1e-12)
    # a frozen layer runs in inference mode even when training, as in Keras
    bn.trainable = False
    np.testing.assert_allclose(bn(batches[1], training=True).detach().numpy(),
                               gamma * (batches[1] - moving_mean) /
                               np.sqrt(moving_var + 1e-3) + beta, rtol=1e-10)
    np.testing.assert_allclose(bn.get_weights()[2], moving_mean, rtol=1e-12)


@pytest.mark.parametrize("axis,shape", [(-1, (5, 3)), (1, (4, 3, 2, 2)), (2, (4, 2, 3, 2)),
                                        (-1, (4, 2, 2, 3)), (3, (4, 2, 2, 3))])
def test_batch_normalization_normalises_the_given_axis(axis, shape):
    x = np.random.default_rng(5).standard_normal(shape) * 3 + 2
    bn = BatchNormalization(axis=axis, center=False, scale=False, dtype="float64")
    y = bn(x, training=True).detach().numpy()
    others = tuple(d for d in range(x.ndim) if d != axis % x.ndim)
    expected = (x - x.mean(others, keepdims=True)) / np.sqrt(x.var(others, keepdims=True) + 1e-3)
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)
    assert [w.shape for w in bn.weights] == [(shape[axis],)] * 2   # moving mean and variance


def test_batch_normalization_weights_gamma_beta_trainable_moving_statistics_not():
    bn = BatchNormalization()
    bn(nb.zeros(2, 4, 4, 5))
    assert bn._weight_names() == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert [w.detach().numpy().tolist() for w in (bn.gamma, bn.beta)] == [[1.0] * 5, [0.0] * 5]
    assert bn.trainable_weights == [bn.gamma, bn.beta]
    assert bn.non_trainable_weights == [bn.moving_mean, bn.moving_variance]
    assert not bn.moving_mean.requires_grad and bn.gamma.requires_grad


def test_fit_updates_moving_statistics_and_evaluate_does_not():
    nb.manual_seed(0)
    rng = np.random.default_rng(6)
    x = (rng.standard_normal((64, 4, 4, 2)) * 2 + 3).astype(np.float32)
    y = rng.integers(0, 3, 64)
    model = keras.Sequential([Input((4, 4, 2)), BatchNormalization(), Flatten(),
                              Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=64, epochs=1, shuffle=False, verbose=0)
    moving_mean = model.layers[0].get_weights()[2]
    np.testing.assert_allclose(moving_mean, 0.01 * x.mean((0, 1, 2)), rtol=1e-5)
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    np.testing.assert_array_equal(model.layers[0].get_weights()[2], moving_mean)


# ---- summary, config, saving -----------------------------------------------------------------
def small_cnn(activation=None):
    return keras.Sequential([
        Input((8, 8, 1)), Conv2D(8, 3, activation="relu", padding="same"),
        BatchNormalization(), MaxPooling2D(),
        Conv2D(4, (3, 2), strides=2, padding="same"),
        AveragePooling2D(3, strides=2, padding="same"), Flatten(),
        Dense(10, activation=activation)])


def test_summary_shows_output_shapes_and_keras_param_counts():
    keras.backend.clear_session()
    lines = []
    small_cnn().summary(print_fn=lines.append)
    text = "\n".join(lines)
    # the figures Keras 3 prints for the same model
    for name, shape, params in [("conv2d (Conv2D)", "(None, 8, 8, 8)", "80"),
                                ("batch_normalization (BatchNormalization)", "(None, 8, 8, 8)",
                                 "32"),
                                ("max_pooling2d (MaxPooling2D)", "(None, 4, 4, 8)", "0"),
                                ("conv2d_1 (Conv2D)", "(None, 2, 2, 4)", "196"),
                                ("average_pooling2d (AveragePooling2D)", "(None, 1, 1, 4)", "0"),
                                ("flatten (Flatten)", "(None, 4)", "0"),
                                ("dense (Dense)", "(None, 10)", "50")]:
        row = next(line for line in lines if name in line)
        assert shape in row and row.rstrip("│ ").endswith(params), row
    assert "Total params: 358 (1.40 KB)" in text
    assert "Trainable params: 342 (1.34 KB)" in text
    assert "Non-trainable params: 16 (64.00 B)" in text


@pytest.mark.parametrize("layer", [
    lambda: Conv2D(6, (3, 2), strides=(2, 1), padding="same", data_format="channels_first",
                   dilation_rate=1, groups=2, activation="relu", use_bias=False,
                   kernel_initializer="he_normal", bias_initializer="ones", name="c"),
    lambda: MaxPooling2D((3, 2), strides=1, padding="same", name="m"),
    lambda: AveragePooling2D(3, data_format="channels_first", name="a"),
    lambda: BatchNormalization(axis=1, momentum=0.9, epsilon=1e-5, center=False,
                               gamma_initializer="zeros", name="b"),
])
def test_get_config_rebuilds_the_same_layer(layer):
    import json
    layer = layer()
    config = json.loads(json.dumps(layer.get_config()))
    again = type(layer).from_config(config)
    assert again.get_config() == layer.get_config()


def test_save_and_load_round_trip_keeps_conv_layers_and_moving_statistics(tmp_path):
    nb.manual_seed(0)
    rng = np.random.default_rng(7)
    x = rng.random((40, 8, 8, 1)).astype(np.float32)
    y = rng.integers(0, 10, 40)
    model = small_cnn("softmax")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "cnn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert [type(layer).__name__ for layer in loaded.layers] == \
        [type(layer).__name__ for layer in model.layers]
    assert loaded.get_config() == model.get_config()
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert loaded.layers[1].get_weights()[2].any()   # trained moving mean came back
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
    loaded.fit(x, y, epochs=1, batch_size=16, verbose=0)   # optimizer state fits too


# ---- errors ----------------------------------------------------------------------------------
def test_conv2d_refuses_a_wrong_channel_count_naming_layer_and_shapes():
    conv = Conv2D(4, 3, name="features")
    conv(nb.zeros(1, 8, 8, 3))
    with pytest.raises(ValueError, match=r"Conv2D 'features' expects inputs with 3 channels "
                                         r"\(axis -1.*got shape \(1, 8, 8, 2\).*kernel has "
                                         r"shape \(3, 3, 3, 4\)"):
        conv(nb.zeros(1, 8, 8, 2))
    model = keras.Sequential([Input((8, 8, 3)), Conv2D(4, 3, name="c1")])
    with pytest.raises(ValueError, match="Conv2D 'c1' expects inputs with 3 channels"):
        model.predict(np.zeros((2, 8, 8, 1), np.float32), verbose=0)


@pytest.mark.parametrize("make,shape,message", [
    (lambda: Conv2D(4, 3, name="c"), (8, 8, 3), r"Conv2D 'c' expects 4-D inputs \(batch, "
                                                r"height, width, channels\)"),
    (lambda: MaxPooling2D(name="p"), (4, 64), r"MaxPooling2D 'p' expects 4-D inputs"),
    (lambda: Conv2D(4, 5, name="c"), (1, 4, 4, 3), r"Conv2D 'c': inputs of shape \(None, 4, 4, "
                                                   r"3\) are too small for kernel_size"),
    (lambda: MaxPooling2D(3, name="p"), (1, 2, 2, 3), r"too small for pool_size"),
    (lambda: Conv2D(4, 3, groups=2, name="c"), (1, 5, 5, 3), r"3 channels.*groups=2"),
])
def test_image_layers_refuse_inputs_that_do_not_fit(make, shape, message):
    with pytest.raises(ValueError, match=message):
        make()(nb.zeros(shape))


def test_built_pooling_layer_refuses_another_rank():
    pool = MaxPooling2D(name="p")
    pool(nb.zeros(1, 4, 4, 2))
    with pytest.raises(ValueError, match=r"MaxPooling2D 'p' expects 4-D inputs.*\(4, 4, 2\)"):
        pool(nb.zeros(4, 4, 2))


@pytest.mark.parametrize("make,message", [
    (lambda: Conv2D(4, 3, padding="full"), r"Conv2D: padding must be 'valid'.*'full'"),
    (lambda: Conv2D(4, 3, strides=2, dilation_rate=2), r"strides > 1 can't be combined"),
    (lambda: Conv2D(5, 3, groups=2), r"filters \(5\) must be divisible by groups \(2\)"),
    (lambda: Conv2D(0, 3), r"filters must be a positive int"),
    (lambda: Conv2D(4, (3, 3, 3)), r"kernel_size must be an int or a tuple of 2 ints"),
    (lambda: MaxPooling2D(data_format="NHWC"), r"data_format must be 'channels_last'"),
    (lambda: BatchNormalization(momentum=1.5), r"momentum must be between 0 and 1"),
])
def test_bad_arguments_are_refused_when_the_layer_is_made(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_batch_normalization_refuses_a_wrong_channel_count():
    bn = BatchNormalization(name="bn")
    bn(nb.zeros(2, 4, 4, 3))
    with pytest.raises(ValueError, match=r"BatchNormalization 'bn' normalises 3 channels along "
                                         r"axis -1.*got shape \(2, 4, 4, 5\)"):
        bn(nb.zeros(2, 4, 4, 5))


def test_layers_are_importable_from_keras_layers():
    assert layers.Conv2D is Conv2D and layers.MaxPooling2D is MaxPooling2D
    assert layers.AveragePooling2D is AveragePooling2D
    assert layers.BatchNormalization is BatchNormalization


# ---- training ----------------------------------------------------------------------------------
def test_small_cnn_learns_the_digits_to_95_percent():
    start = time.perf_counter()
    nb.manual_seed(0)
    x_train, y_train, x_test, y_test = digits_split()       # pixels / 16, fixed 80/20 split
    x_train, x_test = x_train.reshape(-1, 8, 8, 1), x_test.reshape(-1, 8, 8, 1)
    model = keras.Sequential([Input((8, 8, 1)), Conv2D(8, 3, activation="relu", padding="same"),
                              MaxPooling2D(), Flatten(), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=30, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.95
    assert time.perf_counter() - start < 60   # about 4 s on two cores


def test_cnn_on_cuda_matches_the_cpu():
    """Tiny, for the CUDA simulator: every image layer, uneven 'same' padding included,
    forward and one SGD step on both devices."""
    rng = np.random.default_rng(8)
    x = rng.random((4, 5, 5, 2)).astype(np.float32)
    y = np.array([0, 1, 2, 1])
    weights, results = None, []
    for device in ("cpu", "cuda"):
        nb.manual_seed(0)
        model = keras.Sequential([
            Input((5, 5, 2)), Conv2D(3, 2, strides=2, padding="same", activation="relu"),
            BatchNormalization(), MaxPooling2D(3, 2, padding="same"),
            AveragePooling2D(2, 1, padding="same"), Flatten(), Dense(3, activation="softmax")])
        weights = weights or model.get_weights()
        model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
                      loss="sparse_categorical_crossentropy")
        model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0, device=device)
        assert all(p.device.type == device for p in model.weights)
        results.append([model.predict(x, verbose=0)] + model.get_weights())
    for on_cuda, on_cpu in zip(results[1], results[0]):
        np.testing.assert_allclose(on_cuda, on_cpu, rtol=1e-5, atol=1e-6)
