"""Unstructured magnitude pruning: zero the smallest weights, and say honestly what that buys.

Zeros in a dense tensor do not make a dense kernel faster or a dense file smaller; they only make
the file compress better (and help runtimes with sparse kernels, none of which edgekd targets). So
the figures reported are the sparsity and the gzip ratio of the weights, next to the dense model's.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Callable

from torch import nn


def prunable_weights(model: nn.Module) -> list[tuple[nn.Module, str]]:
    return [(module, "weight") for module in model.modules() if isinstance(module, (nn.Conv2d, nn.Linear))]


def magnitude_prune(model: nn.Module, amount: float, finetune: Callable[[], float]) -> float:
    """Zero the `amount` fraction of conv/linear weights smallest in |w| across the whole model (global
    L1), fine-tune with the masks attached so zeros stay zero, then make the zeros permanent.
    Returns the accuracy `finetune` reports."""
    from torch.nn.utils import prune

    weights = prunable_weights(model)
    prune.global_unstructured(weights, pruning_method=prune.L1Unstructured, amount=amount)
    accuracy = finetune()
    for module, name in weights:
        prune.remove(module, name)
    return accuracy


def weight_sparsity(model: nn.Module) -> float:
    """Fraction of exactly-zero entries among the conv/linear weights."""
    tensors = [getattr(module, name) for module, name in prunable_weights(model)]
    zeros = sum(int((t == 0).sum()) for t in tensors)
    return zeros / sum(t.numel() for t in tensors)


def gzip_ratio(path: Path) -> float:
    """Raw size over gzip -9 size: what a compressed download saves."""
    raw = Path(path).read_bytes()
    return len(raw) / len(gzip.compress(raw, compresslevel=9))

