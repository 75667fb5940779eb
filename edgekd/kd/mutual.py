"""The module deep mutual learning trains: several networks, one forward, their logits stacked."""

from __future__ import annotations

import torch
from torch import nn


class Peers(nn.Module):
    """K networks as one module, so the shared trainer (one optimiser, checkpoints, DDP) trains them
    together; `forward` returns [K, batch, classes] for `mutual_learning_loss`."""

    def __init__(self, models: list[nn.Module]):
        super().__init__()
        self.peers = nn.ModuleList(models)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([peer(x) for peer in self.peers])
