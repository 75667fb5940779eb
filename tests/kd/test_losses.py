import math

import pytest
import torch

from edgekd.kd.losses import hinton_kd_loss


def _softmax(values, t):
    exps = [math.exp(v / t) for v in values]
    return [e / sum(exps) for e in exps]


def test_hinton_loss_matches_hand_computation():
    zs, zt, label, t, alpha = [1.0, 2.0, 0.5], [0.2, 3.0, -1.0], 1, 2.0, 0.7
    p_t, p_s = _softmax(zt, t), _softmax(zs, t)
    kl = sum(pt * math.log(pt / ps) for pt, ps in zip(p_t, p_s))
    ce = -math.log(_softmax(zs, 1.0)[label])
    expected = alpha * t * t * kl + (1 - alpha) * ce
    got = hinton_kd_loss(torch.tensor([zs]), torch.tensor([zt]), torch.tensor([label]), t, alpha)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_alpha_zero_is_cross_entropy():
    zs, zt, y = torch.randn(4, 10), torch.randn(4, 10), torch.tensor([0, 3, 9, 2])
    expected = torch.nn.functional.cross_entropy(zs, y)
    assert torch.allclose(hinton_kd_loss(zs, zt, y, 4.0, 0.0), expected)


def test_identical_logits_give_zero_kl():
    z = torch.randn(8, 10)
    assert hinton_kd_loss(z, z.clone(), torch.zeros(8, dtype=torch.long), 3.0, 1.0).item() == pytest.approx(0, abs=1e-6)


def test_fp16_teacher_logits_accepted():
    zs, zt = torch.randn(2, 10), torch.randn(2, 10).half()
    assert torch.isfinite(hinton_kd_loss(zs, zt, torch.tensor([1, 2]), 4.0, 0.9))
