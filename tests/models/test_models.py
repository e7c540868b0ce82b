"""``numbanet.models``: the model definitions build and run with the shapes they promise,
a CNN learns the 8x8 digits to at least 97% test accuracy, and the pretrained digits CNN
loads from the weights shipped in the package (no network) and scores at least 97%."""
from __future__ import annotations

import numpy as np

import numbanet as nb
from numbanet import models, nn
from numbanet.demo import digits_split
from numbanet.models.train_digits import accuracy, images, train


def test_lenet_maps_28x28_images_to_class_scores_with_lenet5_sizes():
    model = models.lenet()
    assert model(nb.randn(2, 1, 28, 28)).shape == (2, 10)
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes[:4] == [(6, 1, 5, 5), (6,), (16, 6, 5, 5), (16,)]
    assert shapes[4::2] == [(120, 400), (84, 120), (10, 84)]


def test_mlp_has_the_requested_widths():
    model = models.mlp(64, (32, 16), 10)
    assert [tuple(p.shape) for p in model.parameters()][::2] == [(32, 64), (16, 32), (10, 16)]
    assert model(nb.randn(3, 64)).shape == (3, 10)


def test_resnet_small_trains_a_step_and_switches_batchnorm_to_running_stats_in_eval():
    nb.manual_seed(0)
    model = models.resnet_small(num_classes=5, in_channels=3)
    assert sum(isinstance(m, models.BasicBlock) for m in model.modules()) == 3
    x, y = nb.randn(2, 3, 8, 8), nb.tensor([1, 4])
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    one = model(x[:1]).detach().numpy()
    both = model(x).detach().numpy()
    np.testing.assert_allclose(one[0], both[0], rtol=1e-4, atol=1e-5)  # no batch statistics


def test_a_cnn_learns_the_digits_to_97_percent():
    _, acc = train(epochs=10, seed=1, report=None)
    assert acc >= 0.97


def test_pretrained_digits_cnn_loads_without_network_and_scores_97_percent():
    model = models.digits_cnn(pretrained=True).eval()
    _, _, x_test, y_test = digits_split()
    assert accuracy(model, images(x_test), nb.tensor(y_test)) >= 0.97


def test_pretrained_weights_file_is_shipped_as_package_data():
    import os
    import tomllib
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "pyproject.toml"), "rb") as f:
        data = tomllib.load(f)["tool"]["setuptools"]["package-data"]
    assert "weights/*.nbz" in data["numbanet.models"]
    assert os.path.exists(models.DIGITS_WEIGHTS)
