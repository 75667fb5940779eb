"""Training checkpoints, after each epoch or every N steps inside one, so a killed run resumes where
it stopped, bit for bit.

Everything that decides what happens next is saved: weights, optimiser and schedule state, the
shuffling generator's state and torch's RNG. A checkpoint inside an epoch also keeps the steps done
in it and the generator's state before the epoch drew its order, so the resumed run draws the same
order and skips what was trained. The file is written under a temporary name and renamed, and read
back with `weights_only=True`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


@dataclass(frozen=True)
class Resumed:
    epoch: int  # epochs done
    step: int = 0  # steps done in the next epoch (a checkpoint inside an epoch)
    epoch_generator: dict | None = None  # the generator's state before that epoch drew its order
    running_loss: float = 0.0  # the loss summed over those steps, for the epoch's status line

    def describe(self, steps_per_epoch: int | None = None) -> str:
        """"resuming after epoch 1", or "resuming after epoch 0, step 4 of 16" inside an epoch."""
        text = f"resuming after epoch {self.epoch}"
        if self.step:
            text += f", step {self.step}" + (f" of {steps_per_epoch}" if steps_per_epoch else "")
        return text


def save_checkpoint(path: Path, epoch: int, model, optimizer, schedule, generator: np.random.Generator,
                    within: Resumed | None = None) -> None:
    """After `epoch` epochs; `within` (epoch = the one under way) marks a checkpoint inside an epoch."""
    state = {
        "epoch": epoch,
        "step": within.step if within else 0,
        "epoch_generator": within.epoch_generator if within else None,
        "running_loss": within.running_loss if within else 0.0,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "schedule": schedule.state_dict(),
        "generator": generator.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
    }
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    os.replace(partial, path)


def checkpoint_position(path: Path) -> Resumed:
    """Where the checkpoint at `path` stands, without restoring it (a parent announcing what its
    workers resume)."""
    return _position(torch.load(path, map_location="cpu", weights_only=True))


def _position(state: dict) -> Resumed:
    # .get: checkpoints written before steps were saved hold epoch ends only
    return Resumed(epoch=int(state["epoch"]), step=int(state.get("step", 0)),
                   epoch_generator=state.get("epoch_generator"), running_loss=float(state.get("running_loss", 0.0)))


def load_checkpoint(path: Path, model, optimizer, schedule, generator: np.random.Generator) -> Resumed:
    """Restore the saved state; return where training stands."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    schedule.load_state_dict(state["schedule"])
    generator.bit_generator.state = state["generator"]
    torch.set_rng_state(state["torch_rng"])
    return _position(state)
