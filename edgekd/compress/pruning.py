"""Structured channel pruning that really shrinks the model, with torch-pruning's dependency graph.

Whole channels are removed from each conv together with everything that depends on them (its batch
norm, the next conv's input channels, the Linear after Flatten), ranked by the L2 magnitude of the
whole coupled group (Fang et al., "DepGraph: Towards Any Structural Pruning", CVPR 2023). Pruning is
gradual: the MACs come down in equal stages to the target, with a fine-tuning callback after each
stage so accuracy can recover before the next cut.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from edgekd.bench.macs import forward_macs


def prune_channels(model: nn.Module, example: torch.Tensor, keep_macs: float, stages: int,
                   finetune: Callable[[int], float], round_to: int | None = None) -> list[dict]:
    """Remove channels until forward MACs are at most `keep_macs` × the original; return per-stage figures.

    `finetune(stage)` trains the model in place and returns its test accuracy."""
    import torch_pruning as tp

    model.eval()
    base = forward_macs(model, example)
    pruner = tp.pruner.MetaPruner(
        model, example[:1], importance=tp.importance.GroupMagnitudeImportance(p=2),
        pruning_ratio=0.9, iterative_steps=180,  # small steps; we stop on the MAC target, not on a ratio
        ignored_layers=[output_layer(model)], round_to=round_to)  # keep every class
    history = []
    for stage in range(1, stages + 1):
        target = base * (1 - (1 - keep_macs) * stage / stages)
        macs = forward_macs(model, example)
        while macs > target and pruner.current_step < pruner.iterative_steps:
            pruner.step()
            macs = forward_macs(model, example)
        if macs >= base:
            raise ValueError(f"found no channels to remove in {type(model).__name__} (only its output layer "
                             "is prunable, and that one keeps every class)")
        accuracy = finetune(stage)
        history.append({"stage": stage, "macs": macs, "macs_ratio": macs / base, "accuracy": accuracy,
                        "params": sum(p.numel() for p in model.parameters())})
    return history


def output_layer(model: nn.Module) -> nn.Module:
    """The classifier layer whose outputs (one per class) pruning must keep: the last Linear, else
    the last conv (fully convolutional heads)."""
    for kind in (nn.Linear, nn.Conv2d, nn.Conv1d):
        found = [m for m in model.modules() if isinstance(m, kind)]
        if found:
            return found[-1]
    raise ValueError(f"{type(model).__name__} has no Linear or Conv layer to prune")
