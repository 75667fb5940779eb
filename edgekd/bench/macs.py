"""Multiply-accumulates of one forward pass, counted by torch's own FLOP counter."""

from __future__ import annotations

import torch
from torch import nn


def forward_macs(model: nn.Module, example: torch.Tensor) -> int:
    """MACs of `model(example[:1])`: torch counts matmul/conv FLOPs as 2 per MAC."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(example[:1])
    model.train(was_training)
    return counter.get_total_flops() // 2
