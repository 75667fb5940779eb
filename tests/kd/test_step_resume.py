"""Checkpoints inside an epoch: a run killed after step k of an epoch resumes at step k + 1 with the same
batch order and the same augmentation draws, and ends with the weights of a run never interrupted."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rich.console import Console

import edgekd.kd.trainer as trainer


def _build() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))


def _noisy(batch: torch.Tensor, generator: np.random.Generator) -> torch.Tensor:
    """Augmentation that draws from the run's generator, so a resumed run must restore its state."""
    return batch + torch.from_numpy(generator.standard_normal(batch.shape).astype(np.float32)) * 0.1


def _train(recipe, data, checkpoint=None, console=None):
    images, labels = data
    return trainer.train(_build(), images, labels, None, recipe, 0, console or Console(quiet=True),
                         augment=_noisy, checkpoint=checkpoint)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((40, 1, 8, 8)).astype(np.float32), rng.integers(0, 10, 40)


@pytest.mark.parametrize("killed_at", [(0, 3), (1, 6)])  # (epoch, steps done in it): 10 steps an epoch
def test_a_run_killed_inside_an_epoch_resumes_to_the_same_weights(data, tmp_path, monkeypatch, killed_at):
    import io

    recipe = trainer.Recipe(epochs=2, batch_size=4, lr=0.05, checkpoint_steps=3)
    whole = _train(recipe, data).state_dict()
    save = trainer.save_checkpoint

    def killed(path, epoch, *rest, within=None):
        save(path, epoch, *rest, within=within)
        if within is not None and (within.epoch, within.step) == killed_at:
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "save_checkpoint", killed)
    with pytest.raises(KeyboardInterrupt):
        _train(recipe, data, tmp_path / "run.ckpt")
    monkeypatch.setattr(trainer, "save_checkpoint", save)
    log = io.StringIO()
    resumed = _train(recipe, data, tmp_path / "run.ckpt", Console(file=log, width=200)).state_dict()
    assert f"resuming after epoch {killed_at[0]}, step {killed_at[1]} of 10" in log.getvalue()
    assert all(torch.equal(whole[key], value) for key, value in resumed.items())


def test_a_checkpoint_without_steps_is_an_epoch_end_as_before(data, tmp_path, monkeypatch):
    """Checkpoints written before steps were saved (epoch ends only) still resume."""
    recipe = trainer.Recipe(epochs=2, batch_size=4, lr=0.05)
    whole = _train(recipe, data).state_dict()
    save = trainer.save_checkpoint

    def stop_after_first_epoch(path, epoch, *rest, within=None):
        save(path, epoch, *rest, within=within)
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "save_checkpoint", stop_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        _train(recipe, data, tmp_path / "run.ckpt")
    monkeypatch.setattr(trainer, "save_checkpoint", save)
    state = torch.load(tmp_path / "run.ckpt", map_location="cpu", weights_only=True)
    for key in ("step", "epoch_generator", "running_loss"):  # the layout before steps were saved
        del state[key]
    torch.save(state, tmp_path / "run.ckpt")
    resumed = _train(recipe, data, tmp_path / "run.ckpt").state_dict()
    assert all(torch.equal(whole[key], value) for key, value in resumed.items())
