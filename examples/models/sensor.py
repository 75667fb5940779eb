"""A user's own 1-D conv teacher and student for multichannel sensor windows (N, C, T).

Named by `pipelines/sensor_arrays.yaml` as `file:examples/models/sensor.py:teacher` / `:student`.
"""

from torch import nn


def _block(c_in: int, c_out: int, kernel: int) -> list[nn.Module]:
    return [nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2, bias=False), nn.BatchNorm1d(c_out), nn.ReLU()]


def teacher(num_classes: int, in_channels: int, width: int = 96) -> nn.Module:
    """An FCN-style network (Wang et al. 2017, the time-series baseline): three conv blocks, global
    average pooling, a linear classifier. ~155k parameters."""
    return nn.Sequential(
        *_block(in_channels, width, 7), *_block(width, 2 * width, 5), *_block(2 * width, width, 3),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(width, num_classes),
    )


def student(num_classes: int, in_channels: int, width: int = 12) -> nn.Module:
    """The same shape at a fraction of the width: ~1k parameters."""
    return nn.Sequential(
        *_block(in_channels, width, 5), *_block(width, width, 3),
        nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(width, num_classes),
    )
