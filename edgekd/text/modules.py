"""Pieces every text model shares: the attention mask from padded ids, and masked mean pooling."""

from __future__ import annotations

import torch


def mask_from_ids(input_ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """1 for real tokens, 0 for padding: how edgekd builds the mask everywhere (train, export, bench)."""
    return (input_ids != pad_id).to(torch.int64)


def masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the real tokens of (N, L, D) states: sentence-transformers' mean pooling."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
