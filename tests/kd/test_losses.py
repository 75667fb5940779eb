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


def test_topk_with_all_classes_equals_full_kd():
    from edgekd.kd.losses import topk_kd_loss

    zs, zt, y = torch.randn(5, 6), torch.randn(5, 6), torch.tensor([0, 1, 2, 3, 4])
    log_p = torch.log_softmax(zt, dim=1)
    values, indices = log_p.topk(6, dim=1)
    full = hinton_kd_loss(zs, zt, y, 3.0, 0.8)
    assert topk_kd_loss(zs, values, indices, y, 3.0, 0.8).item() == pytest.approx(full.item(), rel=1e-5)


def test_topk_spreads_the_rest_mass_evenly_by_hand():
    from edgekd.kd.losses import dense_teacher_log_probs

    # k = 1: class 2 has p = 0.7; the other two classes share 0.3 -> 0.15 each; at T = 2,
    # p ∝ p^(1/2): [sqrt(.15), sqrt(.15), sqrt(.7)] / sum
    dense = dense_teacher_log_probs(torch.tensor([[math.log(0.7)]]), torch.tensor([[2]]), 3, 2.0).exp()[0]
    roots = [math.sqrt(0.15), math.sqrt(0.15), math.sqrt(0.7)]
    expected = [r / sum(roots) for r in roots]
    assert dense.tolist() == pytest.approx(expected, rel=1e-6)


def test_hint_loss_is_mse_after_projection():
    from edgekd.kd.losses import hint_loss

    student, teacher = torch.ones(1, 2, 1, 1), torch.full((1, 4, 1, 1), 3.0)
    projection = torch.nn.Conv2d(2, 4, 1, bias=False)
    torch.nn.init.constant_(projection.weight, 1.0)  # each output = 1 + 1 = 2, target 3: error 1
    assert hint_loss(student, teacher, projection).item() == pytest.approx(1.0)


def test_rkd_distance_by_hand_and_scale_invariance():
    from edgekd.kd.losses import rkd_distance_loss

    teacher = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])  # distances 3, 4, 5; mean 4
    assert rkd_distance_loss(10 * teacher, teacher).item() == pytest.approx(0.0, abs=1e-6)
    student = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])  # distances 1, 2, 1; mean 4/3
    # normalised pairs (6 ordered): teacher [3,4,5]/4, student [1,2,1]*3/4 -> diffs .0, .5, .5 (x2)
    diffs = [abs(3 / 4 - 3 / 4), abs(4 / 4 - 6 / 4), abs(5 / 4 - 3 / 4)]
    huber = [0.5 * d * d if d < 1 else d - 0.5 for d in diffs]
    expected = 2 * sum(huber) / 9  # 9 entries of the 3x3 matrix, diagonal zero in both
    assert rkd_distance_loss(student, teacher).item() == pytest.approx(expected, rel=1e-5)


def test_rkd_angle_zero_for_similar_shapes():
    from edgekd.kd.losses import rkd_angle_loss

    teacher = torch.randn(6, 4)
    rotation, _ = torch.linalg.qr(torch.randn(4, 4))
    assert rkd_angle_loss(2.5 * teacher @ rotation + 1.0, teacher).item() == pytest.approx(0.0, abs=1e-6)
    assert rkd_angle_loss(torch.randn(6, 4), teacher).item() > 0


def test_mutual_learning_loss_matches_hand_computation():
    """Three peers, one sample: each peer's CE plus the mean KL from the two others, by hand."""
    from edgekd.kd.losses import mutual_learning_loss

    peers, label, t, alpha = [[1.0, 2.0, 0.5], [0.2, 3.0, -1.0], [-0.5, 0.0, 1.5]], 2, 2.0, 0.6
    expected = 0.0
    for k, zk in enumerate(peers):
        pk = _softmax(zk, t)
        kls = [sum(pl * math.log(pl / pkk) for pl, pkk in zip(_softmax(zl, t), pk))
               for other, zl in enumerate(peers) if other != k]
        ce = -math.log(_softmax(zk, 1.0)[label])
        expected += ce + alpha * t * t * sum(kls) / 2
    got = mutual_learning_loss(torch.tensor([[z] for z in peers]), torch.tensor([label]), t, alpha)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_mutual_learning_gradient_reaches_each_peer_from_its_own_term_only():
    from edgekd.kd.losses import hinton_kd_loss, mutual_learning_loss

    logits = torch.randn(2, 4, 10, requires_grad=True)
    y = torch.tensor([0, 3, 9, 2])
    mutual_learning_loss(logits, y, 3.0, 1.0).backward()
    # Peer 0's gradient is that of KD towards a fixed peer 1 (the target is detached): CE + T²·KL is
    # twice Hinton's 0.5·T²·KL + 0.5·CE.
    alone = logits.detach()[0].clone().requires_grad_(True)
    hinton_kd_loss(alone, logits.detach()[1], y, 3.0, 0.5).backward()
    torch.testing.assert_close(logits.grad[0], 2 * alone.grad)
