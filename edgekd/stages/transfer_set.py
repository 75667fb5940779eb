"""What students learn and calibrate from: the data's training split, or, after a `synthesize`
stage (data-free KD), the synthetic set, which then replaces the real training split everywhere."""

from __future__ import annotations

from typing import Optional


def transfer_artifact(ctx):
    """The latest `synthesize` artifact, or None."""
    return ctx.maybe_latest("synthesize")


def training_split(ctx):
    """The inputs and labels the cache, distillation and calibration read."""
    artifact = transfer_artifact(ctx)
    if artifact is None:
        return ctx.data.split("train")
    import numpy as np

    from edgekd.data.prepare import Dataset
    from edgekd.stages.synthesize import INPUTS_FILE, LABELS_FILE

    return Dataset(inputs=np.load(artifact.file(INPUTS_FILE)), labels=np.load(artifact.file(LABELS_FILE)))


def transfer_set_id(ctx) -> Optional[str]:
    """For content keys: which synthetic set (None: the data's training split)."""
    artifact = transfer_artifact(ctx)
    return None if artifact is None else artifact.id
