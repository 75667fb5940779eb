"""Embedding distillation: its loss and the retrieval measures, checked by hand."""

import math

import numpy as np
import torch

from edgekd.kd.losses import embedding_kd_loss
from edgekd.text.retrieval import neighbours, recall_at_k, similarity_spearman


def test_embedding_loss_by_hand():
    student = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    teacher = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    # cosines 0 and 1 -> mean(1 - cos) = 0.5; squared errors (1 + 1) and (0 + 1) over 4 -> 0.75
    assert math.isclose(float(embedding_kd_loss(student, teacher)), 0.5 + 0.75, rel_tol=1e-6)
    assert float(embedding_kd_loss(teacher, teacher)) == 0.0


def test_neighbours_and_recall_by_hand():
    # Two tight pairs on the axes: each point's nearest other point is its pair.
    teacher = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    assert neighbours(teacher, 1)[:, 0].tolist() == [1, 0, 3, 2]
    assert recall_at_k(teacher * 3.0, teacher, k=1) == 1.0  # scale does not change cosine neighbours
    swapped = teacher[:, ::-1].copy()
    swapped[[0, 2]] = swapped[[2, 0]]  # pairs (0, 3) and (1, 2) now: no neighbour is the teacher's
    assert neighbours(swapped, 1)[:, 0].tolist() == [3, 2, 1, 0]
    assert recall_at_k(swapped, teacher, k=1) == 0.0


def test_spearman_is_rank_correlation_of_pairwise_similarities():
    rng = np.random.default_rng(0)
    teacher = rng.standard_normal((30, 8))
    assert similarity_spearman(teacher, teacher) > 0.999999
    assert similarity_spearman(2.0 * teacher, teacher) > 0.999999
    assert abs(similarity_spearman(rng.standard_normal((30, 8)), teacher)) < 0.2
