"""A user's own teacher and student for 8x8 digits, outside the edgekd package.

`pipelines/digits_own_model.yaml` names these factories as `file:examples/models/digits.py:teacher`
and `...:student`; edgekd runs this file to build them. `num_classes` and `in_channels` are filled in
from the data because the signatures ask for them.
"""

from torch import nn


def _block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


def teacher(num_classes: int = 10, in_channels: int = 1, width: int = 32) -> nn.Module:
    """~170k parameters: three conv blocks (8x8 -> 4x4 -> 2x2) and a two-layer classifier."""
    return nn.Sequential(
        *_block(in_channels, width), *_block(width, 2 * width), nn.MaxPool2d(2),
        *_block(2 * width, 4 * width), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(4 * width * 2 * 2, 128), nn.ReLU(), nn.Linear(128, num_classes),
    )


def student(num_classes: int = 10, in_channels: int = 1, width: int = 12) -> nn.Module:
    """~4k parameters: two conv blocks and one linear layer, small enough for a microcontroller."""
    return nn.Sequential(
        *_block(in_channels, width), nn.MaxPool2d(2), *_block(width, 2 * width), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * width * 2 * 2, num_classes),
    )
