"""What students learn and calibrate from: the data's training split, or, after a `synthesize`
stage (data-free KD), the synthetic set, which then replaces the real training split everywhere."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Optional


def transfer_artifact(ctx):
    """The latest `synthesize` artifact, or None."""
    return ctx.maybe_latest("synthesize")


def training_split(ctx):
    """The inputs and labels the cache, distillation and calibration read."""
    artifact = transfer_artifact(ctx)
    if artifact is None:
        return ctx.data.split("train")
    from edgekd.stages.synthesize import INPUTS_FILE, LABELS_FILE

    return _synthetic_set(artifact.file(INPUTS_FILE), artifact.file(LABELS_FILE))


@functools.lru_cache(maxsize=2)
def _synthetic_set(inputs: Path, labels: Path):
    """Read once per process: the cache, every training run and calibration ask for it (a finished
    artifact never changes, and its folder name carries its id)."""
    import numpy as np

    from edgekd.data.prepare import Dataset

    return Dataset(inputs=np.load(inputs), labels=np.load(labels))


def transfer_set_id(ctx) -> Optional[str]:
    """For content keys: which synthetic set (None: the data's training split)."""
    artifact = transfer_artifact(ctx)
    return None if artifact is None else artifact.id
