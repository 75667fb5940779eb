"""What a language-model training step asks of the token cache: the teacher's top-k next tokens."""

from __future__ import annotations

import torch

from edgekd.kd.teacher_targets import CachedTargets, Selection
from edgekd.kd.token_losses import token_kd_loss


class TokenTargets(CachedTargets):
    """A token cache (`token_cache` stage) as training targets, with the divergence to train on."""

    def __init__(self, index: dict, columns: dict, kind: str = "forward", beta: float = 0.5):
        super().__init__(index, columns)
        self.kind, self.beta = kind, beta

    def loss(self, student_logits, selection: Selection, next_tokens, temperature: float,
             alpha: float) -> torch.Tensor:
        return token_kd_loss(student_logits, self.rows("topk_log_probs", selection),
                             self.rows("topk_ids", selection), self.rows("rest_mass", selection),
                             next_tokens, alpha, self.kind, self.beta)
