"""`builtin:early_exit`: a network cut after one of its layers, with a small classifier head there.

This is what the `self_distill` stage exports for a shallow exit: a standalone, smaller model. It is
rebuilt from its kwargs alone (the backbone's spec with resolved kwargs, the exit layer, the shape of
that layer's output and the head settings), so an artifact holding it is plain safetensors like any
other. The cut is torchvision's fx feature extractor: it traces the backbone and keeps only the
graph up to the exit, so the later layers and their parameters are gone, for any traceable
architecture (timm models are traced with timm's own leaf-module rules).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

FEATURES = "features"  # the one output the cut trunk returns


class ExitHead(nn.Module):
    """A classifier on an intermediate output: for a feature map, a 3×3 conv + BN + ReLU (`channels`
    wide, at `stride`; 0 channels skips it), optionally an average pool to `pool`×`pool`, and a linear
    layer; for a vector, the linear layer. `embed` is what comes before the linear layer (the
    features the hint loss compares). The strided conv keeps a head on a shallow, high-resolution
    layer cheap (at stride 1 the head after `fmnist_student`'s first block costs as many MACs as its
    second block). The pool must divide the map: it is a fixed-window AvgPool2d, because a
    non-dividing adaptive pool exports to ONNX as a chain of gathers slower than the whole exit."""

    def __init__(self, feature_shape: list[int], num_classes: int, channels: int = 16, stride: int = 2,
                 pool: int | None = None):
        super().__init__()
        layers: list[nn.Module] = []
        if len(feature_shape) == 3:
            depth, rows, cols = feature_shape
            if channels:
                layers += [nn.Conv2d(depth, channels, 3, stride, padding=1, bias=False), nn.BatchNorm2d(channels),
                           nn.ReLU()]
                depth, rows, cols = channels, (rows - 1) // stride + 1, (cols - 1) // stride + 1
            if pool:
                _check_divides(pool, rows, cols)
                layers.append(nn.AvgPool2d((rows // pool, cols // pool)))
                rows = cols = pool
            dim = depth * rows * cols
        elif len(feature_shape) == 1:
            dim = feature_shape[0]
        else:
            from edgekd.errors import ConfigError

            raise ConfigError(f"exits: a layer output of shape {list(feature_shape)} is neither a feature map "
                              "[C, H, W] nor a vector; attach exits to convolutional stages")
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(dim, num_classes)
        self.embed_dim = dim

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


def _check_divides(pool: int, rows: int, cols: int) -> None:
    if rows % pool or cols % pool:
        from edgekd.errors import ConfigError

        raise ConfigError(f"head.pool: {pool} does not divide the {rows}×{cols} map a head pools (after "
                          "its conv); use a divisor of both sides, or null to flatten the map")


def cut_after(backbone: nn.Module, layer: str, source: str) -> nn.Module:
    """`backbone` traced up to the output of `layer`; returns {FEATURES: that output}. Only the
    modules that output depends on are kept (same parameter names as in the backbone)."""
    if source == "timm":
        from timm.models import create_feature_extractor
    else:
        from torchvision.models.feature_extraction import create_feature_extractor

    return create_feature_extractor(backbone, return_nodes={layer: FEATURES})


class EarlyExit(nn.Module):
    """The backbone up to `exit_layer`, then an `ExitHead`: the exit as a model of its own."""

    def __init__(self, backbone: dict[str, Any], exit_layer: str, feature_shape: list[int], num_classes: int,
                 head_channels: int = 16, head_stride: int = 2, head_pool: int | None = None):
        super().__init__()
        from edgekd.models.build import instantiate_for_weights
        from edgekd.models.spec import parse_spec

        spec = parse_spec(backbone, "early_exit.backbone")
        self.trunk = cut_after(instantiate_for_weights(spec, spec.kwargs), exit_layer, spec.source)
        self.head = ExitHead(feature_shape, num_classes, head_channels, head_stride, head_pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x)[FEATURES])
