"""End-of-epoch training checkpoints, so a killed run resumes where it stopped, bit for bit.

Everything that decides what happens next is saved: weights, optimiser and schedule state, the
shuffling generator's state and torch's RNG. The file is written under a temporary name and renamed,
and read back with `weights_only=True`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch


def save_checkpoint(path: Path, epoch: int, model, optimizer, schedule, generator: np.random.Generator) -> None:
    state = {
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict(),
        "generator": generator.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
    }
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    os.replace(partial, path)


def checkpoint_epoch(path: Path) -> int:
    """How many epochs the checkpoint at `path` has done (a parent announcing what its workers resume)."""
    return int(torch.load(path, map_location="cpu", weights_only=True)["epoch"])


def load_checkpoint(path: Path, model, optimizer, schedule, generator: np.random.Generator) -> int:
    """Restore the state saved after an epoch; return how many epochs are done."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    generator.bit_generator.state = state["generator"]
    torch.set_rng_state(state["torch_rng"])
    return int(state["epoch"])
