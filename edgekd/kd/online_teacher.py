"""Online distillation: the teacher runs on every batch. The baseline the teacher cache is measured
against (`benchmarks/kd_throughput.py`); training pipelines use the cache."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from edgekd.kd.losses import hinton_kd_loss
from edgekd.kd.teacher_targets import Selection


class OnlineTeacher:
    """Same interface as `CachedTargets`, computing the teacher's logits per step instead of reading them."""

    views = None

    def __init__(self, teacher: nn.Module):
        self.teacher = teacher.eval()

    def select(self, index: torch.Tensor, generator: np.random.Generator) -> Selection:
        return Selection(index)

    def inputs(self, images: torch.Tensor, selection: Selection) -> torch.Tensor:
        self._batch = images[selection.index]
        return self._batch

    def loss(self, student_logits, selection: Selection, labels, temperature: float, alpha: float) -> torch.Tensor:
        with torch.inference_mode():
            teacher_logits = self.teacher(self._batch)
        return hinton_kd_loss(student_logits, teacher_logits.clone(), labels, temperature, alpha)
