"""Token-level KD losses on a hand-computed case: a teacher top-2 cache with a tail bucket, and a
student over a 4-token vocabulary."""

import math

import pytest
import torch
import torch.nn.functional as F

from edgekd.kd.token_losses import divergence, student_bins, teacher_bins, token_kd_loss

# Teacher: p(0) = 0.5, p(1) = 0.3, the other tokens 0.2 together. Student: q = (0.5, 0.25, 0.125, 0.125).
TOPK_LOG_PROBS = torch.tensor([[[math.log(0.5), math.log(0.3)]]])
TOPK_IDS = torch.tensor([[[0, 1]]])
REST = torch.tensor([[0.2]])
STUDENT_LOGITS = torch.tensor([[[math.log(4.0), math.log(2.0), 0.0, 0.0]]])
P, Q = (0.5, 0.3, 0.2), (0.5, 0.25, 0.25)  # the bins: token 0, token 1, everything else


def _kl(a, b):
    return sum(x * math.log(x / y) for x, y in zip(a, b))


def test_both_distributions_on_the_same_bins():
    assert torch.allclose(teacher_bins(TOPK_LOG_PROBS[0], REST[0]).exp(), torch.tensor([P]), atol=1e-6)
    assert torch.allclose(student_bins(STUDENT_LOGITS[0], TOPK_IDS[0]).exp(), torch.tensor([Q]), atol=1e-6)


@pytest.mark.parametrize("kind, expected", [
    ("forward", 0.3 * math.log(0.3 / 0.25) + 0.2 * math.log(0.2 / 0.25)),       # 0.010068
    ("reverse", 0.25 * math.log(0.25 / 0.3) + 0.25 * math.log(0.25 / 0.2)),     # 0.010205
])
def test_kl_both_ways_by_hand(kind, expected):
    log_p, log_q = teacher_bins(TOPK_LOG_PROBS[0], REST[0]), student_bins(STUDENT_LOGITS[0], TOPK_IDS[0])
    assert divergence(log_p, log_q, kind).item() == pytest.approx(expected, abs=1e-6)


def test_generalised_jsd_by_hand():
    beta = 0.3
    m = [beta * p + (1 - beta) * q for p, q in zip(P, Q)]
    expected = beta * _kl(P, m) + (1 - beta) * _kl(Q, m)
    log_p, log_q = teacher_bins(TOPK_LOG_PROBS[0], REST[0]), student_bins(STUDENT_LOGITS[0], TOPK_IDS[0])
    assert divergence(log_p, log_q, "jsd", beta).item() == pytest.approx(expected, abs=1e-7)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        divergence(log_p, log_q, "jsd", 1.0)


@pytest.mark.parametrize("kind", ["forward", "reverse", "jsd"])
def test_alpha_mixes_the_divergence_with_next_token_ce(kind):
    next_token = torch.tensor([[1]])
    ce = -math.log(0.25)
    log_p, log_q = teacher_bins(TOPK_LOG_PROBS[0], REST[0]), student_bins(STUDENT_LOGITS[0], TOPK_IDS[0])
    d = divergence(log_p, log_q, kind).item()
    loss = token_kd_loss(STUDENT_LOGITS, TOPK_LOG_PROBS, TOPK_IDS, REST, next_token, 0.7, kind)
    assert loss.item() == pytest.approx(0.7 * d + 0.3 * ce, abs=1e-6)
    assert token_kd_loss(STUDENT_LOGITS, TOPK_LOG_PROBS, TOPK_IDS, REST, next_token, 0.0, kind).item() == \
        pytest.approx(ce, abs=1e-6)


def test_with_the_whole_vocabulary_cached_forward_kl_is_the_full_kl():
    torch.manual_seed(0)
    teacher, student = torch.randn(2, 5, 6), torch.randn(2, 5, 6, requires_grad=True)
    log_p = F.log_softmax(teacher, dim=-1)
    values, ids = log_p.topk(6, dim=-1)
    loss = token_kd_loss(student, values, ids, torch.zeros(2, 5), torch.zeros(2, 5, dtype=torch.long), 1.0)
    full = F.kl_div(F.log_softmax(student, dim=-1).reshape(-1, 6), log_p.reshape(-1, 6), log_target=True,
                    reduction="batchmean")
    assert loss.item() == pytest.approx(full.item(), abs=1e-4)  # the empty tail bucket adds ~1e-8 log terms
    loss.backward()
    assert torch.isfinite(student.grad).all()
