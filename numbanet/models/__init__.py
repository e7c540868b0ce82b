"""``numbanet.models``: small ready-made networks, one pretrained.

- ``mlp(in_features, hidden, out_features)``: a multi-layer perceptron;
- ``lenet(num_classes=10, in_channels=1)``: LeNet-5 for 28x28 images;
- ``resnet_small(num_classes=10, in_channels=3)``: a residual network of BasicBlocks with
  batch normalization, for 32x32 images;
- ``digits_cnn(pretrained=False)``: two conv/pool blocks and a linear head for the 8x8
  digits of ``numbanet.datasets.load_digits``; ``pretrained=True`` loads weights shipped
  inside the package (trained by ``python -m numbanet.models.train_digits``)::

    model = numbanet.models.digits_cnn(pretrained=True).eval()
    model(images).argmax(1)          # images: (N, 1, 8, 8), pixels scaled to 0..1
"""
from .classic import lenet, mlp
from .digits import DIGITS_WEIGHTS, digits_cnn
from .resnet import BasicBlock, ResNet, resnet_small

__all__ = ["mlp", "lenet", "resnet_small", "ResNet", "BasicBlock", "digits_cnn",
           "DIGITS_WEIGHTS"]
