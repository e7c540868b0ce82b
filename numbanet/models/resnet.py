"""A small residual network (He et al., 2016): stacks of BasicBlocks with batch norm.

A residual block learns a correction ``F(x)`` added to its input, ``relu(F(x) + x)``;
the identity path lets gradients flow through deep stacks unchanged.
"""
from __future__ import annotations

from .. import nn
from ..autograd import ops


class BasicBlock(nn.Module):
    """conv3x3-bn-relu-conv3x3-bn, plus the input (through a 1x1 conv and bn when the
    block changes the number of channels or strides), then relu."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes))
        else:
            self.downsample = None

    def forward(self, x):
        out = ops.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return ops.relu(out + shortcut)


class ResNet(nn.Module):
    """A stem conv, then one stage of ``blocks[i]`` BasicBlocks per entry of ``widths``
    (each stage after the first halves the resolution), global average pooling and a
    linear classifier."""

    def __init__(self, blocks=(1, 1, 1), widths=(16, 32, 64), num_classes: int = 10,
                 in_channels: int = 3):
        super().__init__()
        if len(blocks) != len(widths):
            raise ValueError(f"ResNet: blocks {blocks} and widths {widths} must have one "
                             "entry per stage")
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        stages, planes = [], widths[0]
        for i, (n, width) in enumerate(zip(blocks, widths)):
            layers = []
            for b in range(n):
                layers.append(BasicBlock(planes, width, stride=2 if i > 0 and b == 0 else 1))
                planes = width
            stages.append(nn.Sequential(*layers))
        self.layers = nn.ModuleList(stages)
        self.fc = nn.Linear(planes, num_classes)

    def forward(self, x):
        out = ops.relu(self.bn1(self.conv1(x)))
        for stage in self.layers:
            out = stage(out)
        out = out.mean((2, 3))  # global average pooling: one number per channel
        return self.fc(out)


def resnet_small(num_classes: int = 10, in_channels: int = 3) -> ResNet:
    """ResNet with three stages of one BasicBlock each (16, 32, 64 channels): about 75k
    parameters, for 32x32 images (CIFAR-sized)."""
    return ResNet((1, 1, 1), (16, 32, 64), num_classes, in_channels)
