"""Numerical parity of an exported model against the PyTorch model it came from."""

from __future__ import annotations

import numpy as np


def parity(reference: np.ndarray, candidate: np.ndarray) -> dict[str, float]:
    """Max absolute logit difference (also relative to the largest |logit|, so models with large
    logits are judged alike), the share of inputs whose top-1 class agrees, and the smallest cosine
    similarity of an input's two output vectors (what matters for an embedder, whose argmax is
    meaningless)."""
    max_abs = float(np.max(np.abs(reference - candidate)))
    norms = np.linalg.norm(reference, axis=1) * np.linalg.norm(candidate, axis=1)
    cosine = np.sum(reference * candidate, axis=1) / np.maximum(norms, 1e-12)
    return {
        "cosine_min": float(np.min(cosine)),
        "parity_max_abs": max_abs,
        "parity_rel": max_abs / max(float(np.max(np.abs(reference))), 1e-12),
        "top1_agreement": float(np.mean(reference.argmax(axis=1) == candidate.argmax(axis=1))),
        "parity_samples": int(len(reference)),
    }
