"""Distillation losses: pure functions of logits and labels."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def hinton_kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    labels: torch.Tensor,
    temperature: float,
    alpha: float,
) -> torch.Tensor:
    """Response-based knowledge distillation (Hinton, Vinyals & Dean, 2015, arXiv:1503.02531).

        L = α · T² · KL(softmax(z_t / T) ‖ softmax(z_s / T)) + (1 − α) · CE(z_s, y)

    The KL term is averaged over the batch; T² keeps its gradient scale independent of T, so α means
    the same thing at every temperature. α = 0 is plain cross-entropy, α = 1 pure distillation.
    """
    ce = F.cross_entropy(student_logits, labels)
    if alpha == 0.0:
        return ce
    log_p_student = F.log_softmax(student_logits / temperature, dim=1)
    log_p_teacher = F.log_softmax(teacher_logits.float() / temperature, dim=1)
    kl = F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True)
    return alpha * temperature**2 * kl + (1.0 - alpha) * ce
