"""What a training step asks of the teacher: a distillation loss for a batch of sample indices."""

from __future__ import annotations

import numpy as np
import torch

from edgekd.kd.losses import hinton_kd_loss, topk_kd_loss


class FullLogitTargets:
    """All teacher logits (copied once from the fp16 memory map: small, and indexing is faster)."""

    def __init__(self, logits: np.ndarray):
        self.logits = torch.from_numpy(np.array(logits, dtype=np.float32))

    def loss(self, student_logits, index, labels, temperature: float, alpha: float) -> torch.Tensor:
        return hinton_kd_loss(student_logits, self.logits[index], labels, temperature, alpha)


class TopKTargets:
    """The teacher's k most likely classes per sample (log-probabilities at T = 1, class indices)."""

    def __init__(self, log_probs: np.ndarray, indices: np.ndarray):
        self.log_probs = torch.from_numpy(np.array(log_probs, dtype=np.float32))
        self.indices = torch.from_numpy(np.array(indices, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.indices)

    def loss(self, student_logits, index, labels, temperature: float, alpha: float) -> torch.Tensor:
        return topk_kd_loss(student_logits, self.log_probs[index], self.indices[index], labels,
                            temperature, alpha)


def as_targets(teacher) -> FullLogitTargets | TopKTargets:
    """Full logits (an array) or an already-built target object."""
    return teacher if hasattr(teacher, "loss") else FullLogitTargets(teacher)
