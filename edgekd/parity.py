"""Numerical parity of an exported model against the PyTorch model it came from."""

from __future__ import annotations

import numpy as np


def parity(reference: np.ndarray, candidate: np.ndarray) -> dict[str, float]:
    """Max absolute logit difference (also relative to the largest |logit|, so models with large
    logits are judged alike) and the share of inputs whose top-1 class agrees."""
    max_abs = float(np.max(np.abs(reference - candidate)))
    return {
        "parity_max_abs": max_abs,
        "parity_rel": max_abs / max(float(np.max(np.abs(reference))), 1e-12),
        "top1_agreement": float(np.mean(reference.argmax(axis=1) == candidate.argmax(axis=1))),
        "parity_samples": int(len(reference)),
    }
