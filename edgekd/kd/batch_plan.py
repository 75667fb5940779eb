"""Which samples each training step sees: one shuffled order, or this rank's share of it under DDP."""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np
import torch


class ShuffledBatches:
    """A single process: a fresh permutation per epoch from the run's seeded generator."""

    def __init__(self, count: int, batch_size: int, generator: np.random.Generator):
        self.count, self.batch_size, self.generator = count, batch_size, generator
        self.steps = math.ceil(count / batch_size)

    def epoch(self, epoch: int) -> Iterator[torch.Tensor]:
        return _batches(torch.from_numpy(self.generator.permutation(self.count)), self.batch_size, self.steps)


class DistributedBatches:
    """DistributedDataParallel: PyTorch's DistributedSampler gives each rank a disjoint share of the
    epoch's permutation; the global batch (`batch_size`) is split evenly across ranks, so the number of
    steps and the learning-rate schedule match a single process."""

    def __init__(self, count: int, batch_size: int, rank: int, world_size: int, seed: int):
        from torch.utils.data import DistributedSampler

        self.sampler = DistributedSampler(range(count), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
        self.batch_size = max(1, batch_size // world_size)
        self.steps = math.ceil(len(self.sampler) / self.batch_size)

    def epoch(self, epoch: int) -> Iterator[torch.Tensor]:
        self.sampler.set_epoch(epoch)
        return _batches(torch.tensor(list(self.sampler)), self.batch_size, self.steps)


def _batches(order: torch.Tensor, batch_size: int, steps: int) -> Iterator[torch.Tensor]:
    for step in range(steps):
        yield order[step * batch_size:(step + 1) * batch_size]
