"""A training loop killed right after its first epoch checkpoint resumes to the uninterrupted weights."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest
import torch
from rich.console import Console


def assert_resumes_to_the_same_weights(build: Callable[[], torch.nn.Module], objective: str, tmp_path,
                                       monkeypatch) -> None:
    import edgekd.kd.trainer as trainer

    rng = np.random.default_rng(0)
    images, labels = rng.standard_normal((128, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 128)
    recipe, console = trainer.Recipe(epochs=2, objective=objective), Console(quiet=True)
    whole = trainer.train(build(), images, labels, None, recipe, 0, console).state_dict()
    save = trainer.save_checkpoint

    def killed_after_first_epoch(path, epoch, *rest):
        save(path, epoch, *rest)
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "save_checkpoint", killed_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        trainer.train(build(), images, labels, None, recipe, 0, console, checkpoint=tmp_path / "run.ckpt")
    monkeypatch.setattr(trainer, "save_checkpoint", save)
    resumed = trainer.train(build(), images, labels, None, recipe, 0, console, checkpoint=tmp_path / "run.ckpt")
    assert all(torch.equal(whole[key], value) for key, value in resumed.state_dict().items())
