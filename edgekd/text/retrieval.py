"""How well a student embedder stands in for its teacher in semantic search, on held-out sentences.

- recall@k: for each sentence, the overlap of its k nearest neighbours (cosine, itself excluded)
  under the student with those under the teacher, averaged: 1.0 means search returns the same hits.
- Spearman: the rank correlation of all pairwise cosine similarities, student vs teacher.
"""

from __future__ import annotations

import numpy as np


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def neighbours(vectors: np.ndarray, k: int) -> np.ndarray:
    """(N, k) indices of each row's k most cosine-similar other rows."""
    unit = _unit(vectors)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    return np.argpartition(-similarity, k, axis=1)[:, :k]


def recall_at_k(student: np.ndarray, teacher: np.ndarray, k: int = 10) -> float:
    ours, theirs = neighbours(student, k), neighbours(teacher, k)
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(ours, theirs)]))


def _ranks(values: np.ndarray) -> np.ndarray:
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[np.argsort(values, kind="stable")] = np.arange(len(values))
    return ranks


def similarity_spearman(student: np.ndarray, teacher: np.ndarray) -> float:
    """Spearman correlation of the pairwise cosine similarities (upper triangle; float ties are rare)."""
    upper = np.triu_indices(len(student), k=1)
    ours = (_unit(student) @ _unit(student).T)[upper]
    theirs = (_unit(teacher) @ _unit(teacher).T)[upper]
    return float(np.corrcoef(_ranks(ours), _ranks(theirs))[0, 1])


def retrieval_fidelity(student: np.ndarray, teacher: np.ndarray, k: int = 10) -> dict[str, float]:
    return {f"recall_at_{k}": recall_at_k(student, teacher, k), "spearman": similarity_spearman(student, teacher)}
