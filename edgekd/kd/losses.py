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


def dense_teacher_log_probs(topk_log_probs: torch.Tensor, topk_indices: torch.Tensor,
                            num_classes: int, temperature: float,
                            rest_mass: torch.Tensor | None = None) -> torch.Tensor:
    """Rebuild a full teacher distribution at temperature T from a top-k cache.

    The cache holds the k largest log-probabilities at T = 1, their class indices and the mass left
    over, r = 1 − Σ top-k (recorded, or implied from the top-k when not given). r is spread evenly
    over the other C − k classes. Tempering p ∝ p^(1/T) and renormalising gives the distribution at
    T (exact for the top-k classes up to the even-spread approximation of the tail, which is what the
    top-k cache gives up).
    """
    topk_log_probs = topk_log_probs.float()
    batch, k = topk_log_probs.shape
    if rest_mass is None:
        rest_mass = 1.0 - topk_log_probs.exp().sum(dim=1, keepdim=True)
    rest = rest_mass.float().reshape(batch, 1).clamp_min(1e-12)
    spread = rest / max(num_classes - k, 1)
    dense = spread.log().expand(batch, num_classes).clone()
    dense.scatter_(1, topk_indices.long(), topk_log_probs)
    return torch.log_softmax(dense / temperature, dim=1)


def topk_kd_loss(student_logits: torch.Tensor, topk_log_probs: torch.Tensor, topk_indices: torch.Tensor,
                 labels: torch.Tensor, temperature: float, alpha: float,
                 rest_mass: torch.Tensor | None = None) -> torch.Tensor:
    """Hinton KD from a top-k teacher cache (sparse soft targets, e.g. Shleifer & Rush 2020 style).

        L = α · T² · KL(p̃_t^T ‖ softmax(z_s / T)) + (1 − α) · CE(z_s, y)

    where p̃_t^T is `dense_teacher_log_probs`. With k = C it equals `hinton_kd_loss` exactly.
    """
    ce = F.cross_entropy(student_logits, labels)
    teacher = dense_teacher_log_probs(topk_log_probs, topk_indices, student_logits.shape[1], temperature,
                                      rest_mass)
    kl = F.kl_div(F.log_softmax(student_logits / temperature, dim=1), teacher, reduction="batchmean",
                  log_target=True)
    return alpha * temperature**2 * kl + (1.0 - alpha) * ce


def hint_loss(student_features: torch.Tensor, teacher_features: torch.Tensor, projection) -> torch.Tensor:
    """Feature (hint) distillation, FitNets (Romero et al., 2015, arXiv:1412.6550).

        L = mean ‖ r(f_s) − f_t ‖²

    `projection` r is a learned regressor (e.g. a 1×1 conv) mapping the student's feature map to
    the teacher's shape; it is trained with the student and dropped afterwards.
    """
    return F.mse_loss(projection(student_features), teacher_features.float())


def rkd_distance_loss(student_embed: torch.Tensor, teacher_embed: torch.Tensor) -> torch.Tensor:
    """Relational KD, distance-wise (Park et al., CVPR 2019, arXiv:1904.05068).

        ψ_D(t_i, t_j) = ‖t_i − t_j‖ / μ,   μ = mean over pairs i ≠ j of ‖t_i − t_j‖
        L = mean over pairs of Huber(ψ_D(s_i, s_j), ψ_D(t_i, t_j))

    Normalising by μ makes the loss blind to a global scale of either embedding.
    """
    return F.smooth_l1_loss(_normalized_distances(student_embed), _normalized_distances(teacher_embed.float()))


def rkd_angle_loss(student_embed: torch.Tensor, teacher_embed: torch.Tensor) -> torch.Tensor:
    """Relational KD, angle-wise (Park et al., CVPR 2019).

        ψ_A(t_i, t_j, t_k) = ⟨e_ij, e_kj⟩,  e_ij = (t_i − t_j) / ‖t_i − t_j‖
        L = mean over triplets of Huber(ψ_A(s), ψ_A(t))
    """
    return F.smooth_l1_loss(_triplet_cosines(student_embed), _triplet_cosines(teacher_embed.float()))


def _normalized_distances(embed: torch.Tensor) -> torch.Tensor:
    flat = embed.flatten(1)
    distances = torch.cdist(flat, flat)
    off_diagonal = ~torch.eye(len(flat), dtype=torch.bool, device=flat.device)
    return distances / distances[off_diagonal].mean().clamp_min(1e-12)


def _triplet_cosines(embed: torch.Tensor) -> torch.Tensor:
    flat = embed.flatten(1)
    unit = F.normalize(flat.unsqueeze(0) - flat.unsqueeze(1), p=2, dim=2)  # unit[j, i] = e_ij
    return torch.bmm(unit, unit.transpose(1, 2)).flatten()


def embedding_kd_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Sentence-embedding distillation: the student regresses the teacher's vectors.

        L = mean(1 − cos(s, t)) + mean‖s − t‖² / D

    The MSE term is the loss Reimers & Gurevych (2020, arXiv:2004.09813) distil sentence embedders
    with; the cosine term (DistilBERT's, Sanh et al. 2019) weights direction, which is all that
    retrieval by cosine similarity uses, whatever the teacher's vector norms are.
    """
    teacher = teacher.float()
    cosine = F.cosine_similarity(student, teacher, dim=1)
    return (1.0 - cosine).mean() + F.mse_loss(student, teacher)


def mutual_learning_loss(peer_logits: torch.Tensor, labels: torch.Tensor, temperature: float,
                         kl_weight: float) -> torch.Tensor:
    """Deep mutual learning (Zhang, Xiang, Hospedales & Lu, CVPR 2018, arXiv:1706.00384): K networks
    trained together from scratch, each from the labels and from the others' current predictions.

        L = Σ_k [ CE(z_k, y) + λ · T² · (1 / (K − 1)) Σ_{l≠k} KL(p_l ‖ p_k) ],   p_k = softmax(z_k / T)

    The paper's loss is λ = 1, T = 1. Each peer keeps a full CE term, so at the same learning rate it
    gets the label gradient a network trained alone gets, and the KL term is added on top (a convex
    mix would halve the CE step and compare mutual learning with CE at half the learning rate).
    `peer_logits` is [K, batch, classes]. The peers' targets p_l are detached, so ∂L/∂θ_k comes from
    network k's own term alone and one optimiser over all peers updates each as its own would: the
    simultaneous variant of the paper's alternating updates.
    """
    peers = peer_logits.shape[0]
    if peers < 2:
        raise ValueError("mutual learning needs at least two peers")
    log_p = F.log_softmax(peer_logits / temperature, dim=2)
    targets = log_p.detach()
    total = peer_logits.new_zeros(())
    for k in range(peers):
        ce = F.cross_entropy(peer_logits[k], labels)
        kl = sum(F.kl_div(log_p[k], targets[other], reduction="batchmean", log_target=True)
                 for other in range(peers) if other != k) / (peers - 1)
        total = total + ce + kl_weight * temperature**2 * kl
    return total


def self_distillation_loss(exit_logits: torch.Tensor, labels: torch.Tensor, temperature: float, alpha: float,
                           hints: list[torch.Tensor] | None = None, deepest_features: torch.Tensor | None = None,
                           hint_weight: float = 0.0) -> torch.Tensor:
    """Be Your Own Teacher: self-distillation through auxiliary heads (Zhang, Song, Gao, Chen, Bao &
    Ma, ICCV 2019, arXiv:1905.08094). The heads on a network's shallower layers learn from its
    deepest head, within one training run and with no separate teacher.

        L = CE(z_D, y) + Σ_{i<D} [ (1 − α) · CE(z_i, y) + α · T² · KL(softmax(z_D / T) ‖ softmax(z_i / T))
                                   + λ · ‖r_i(f_i) − f_D‖² ]

    `exit_logits` is [D, batch, classes], the shallowest exit first and the deepest z_D last; `hints`
    are the shallow exits' projected features r_i(f_i), `deepest_features` f_D; ‖·‖² is the mean
    squared difference over batch and features (FitNets' hint loss). The deepest logits and features
    are detached in the KD and hint terms: they are the teacher there, and learn from the labels alone.
    """
    deepest = exit_logits[-1]
    total = F.cross_entropy(deepest, labels)
    target = F.log_softmax(deepest.detach().float() / temperature, dim=1)
    for index, logits in enumerate(exit_logits[:-1]):
        kl = F.kl_div(F.log_softmax(logits / temperature, dim=1), target, reduction="batchmean", log_target=True)
        total = total + (1.0 - alpha) * F.cross_entropy(logits, labels) + alpha * temperature**2 * kl
        if hint_weight and hints:
            total = total + hint_weight * F.mse_loss(hints[index], deepest_features.detach().float())
    return total
