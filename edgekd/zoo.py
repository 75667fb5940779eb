"""Model registry: the architectures a pipeline can name (`model: fmnist_teacher`).

Checkpoints hold weights only (safetensors), so the architecture must come from code; this registry is
that code. Each builder takes no arguments but `width` so a budget test can grow a model on purpose.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from edgekd.errors import CheckpointError

INPUT_SHAPE = (1, 28, 28)
NUM_CLASSES = 10


def _conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class FashionTeacher(nn.Module):
    """VGG-style CNN: one conv at full resolution, a double conv at half, then a wide classifier.

    ~0.86M parameters (most in the classifier) but only ~12M MACs, so caching its logits over the
    60k training images stays quick on a laptop CPU.
    """

    def __init__(self, width: int = 32, hidden: int = 256, num_classes: int = NUM_CLASSES):
        super().__init__()
        self.features = nn.Sequential(
            *_conv_block(1, width), nn.MaxPool2d(2),
            *_conv_block(width, 2 * width), *_conv_block(2 * width, 2 * width), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(0.3), nn.Linear(2 * width * 7 * 7, hidden), nn.ReLU(),
            nn.Dropout(0.3), nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class FashionStudent(nn.Module):
    """Small CNN for phones and microcontrollers: two conv stages and a small classifier.

    `channels` overrides the two conv widths (width, 2·width): a pruned student is rebuilt from it.
    `input_size` (height, width) comes from the data: a student reading a low-resolution view of the
    images (cross-input KD, e.g. 14×14) has a smaller classifier input.
    """

    def __init__(self, width: int = 16, hidden: int = 32, num_classes: int = NUM_CLASSES,
                 channels: list[int] | None = None, input_size: tuple[int, int] | list[int] = INPUT_SHAPE[1:]):
        super().__init__()
        first, second = channels if channels is not None else (width, 2 * width)
        pooled = (input_size[0] // 4) * (input_size[1] // 4)  # two 2×2 max-pools, floor division
        self.features = nn.Sequential(
            *_conv_block(1, first), nn.MaxPool2d(2),
            *_conv_block(first, second), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(second * pooled, hidden), nn.ReLU(), nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _text_students() -> dict[str, Callable[..., nn.Module]]:
    from edgekd.models.text_students import TinyBert, TokenCNN

    return {"tiny_bert": TinyBert, "token_cnn": TokenCNN}


MODELS: dict[str, Callable[..., nn.Module]] = {
    "fmnist_teacher": FashionTeacher,
    "fmnist_student": FashionStudent,
    **_text_students(),  # for token-id data (text_csv, jsonl)
    "early_exit": __import__("edgekd.models.early_exit", fromlist=["EarlyExit"]).EarlyExit,  # self_distill exits
}


def build_model(name: str, **kwargs) -> nn.Module:
    """Instantiate a registered architecture by name."""
    if name not in MODELS:
        raise CheckpointError(f"unknown model {name!r}; registered: {', '.join(sorted(MODELS))}")
    return MODELS[name](**kwargs)


def count_params(model: nn.Module) -> int:
    """Parameters of a model; a wrapped exported file (an ONNX teacher) counts its own weights."""
    if hasattr(model, "parameter_count"):
        return model.parameter_count()
    return sum(p.numel() for p in model.parameters())
