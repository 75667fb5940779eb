"""Numerical parity of an exported model against the PyTorch model it came from."""

from __future__ import annotations

import numpy as np


def parity(reference: np.ndarray, candidate: np.ndarray) -> dict[str, float]:
    """Max absolute logit difference and the share of inputs whose top-1 class agrees."""
    return {
        "parity_max_abs": float(np.max(np.abs(reference - candidate))),
        "top1_agreement": float(np.mean(reference.argmax(axis=1) == candidate.argmax(axis=1))),
        "parity_samples": int(len(reference)),
    }
