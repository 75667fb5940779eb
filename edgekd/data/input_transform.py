"""Per-model input transforms: the student reads a cheaper view of the sample the teacher reads.

Cross-input (privileged) distillation: the teacher sees the full 28×28 image or all 12 sensor
channels, the student what its device will have, a 14×14 camera or 4 of the channels. Both read
the same sample, so the cached teacher outputs stay aligned row by row with what the student sees.

The transform is part of the student's model spec (`input_transform:` next to `kwargs:`); the
student's artifact records it in its input spec (`extra.input_transform`, with the shape it starts
from), and every stage that feeds the pipeline's data to that model applies it first: the exported
files then declare the small input, which is what an app on the device feeds them.

Order: channels are picked first, then the result is resized by area averaging (what a sensor with
bigger pixels records). Both commute with the per-channel normalisation, so the small input is
normalised with the same mean and std as the full one.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, Optional

from pydantic import Field, model_validator

from edgekd.config import StrictModel
from edgekd.errors import ConfigError

EXTRA_KEY = "input_transform"
ALGORITHM = "input-transform-v1: channels[index] then area resize (F.interpolate mode=area)"


class InputTransform(StrictModel):
    """What the model reads of each sample: some of its channels, at a lower resolution."""

    channels: Optional[list[int]] = Field(None, min_length=1, description="indices of the channels kept, in order")
    resize: Optional[list[int]] = Field(
        None, min_length=1, max_length=2, description="[height, width] of images (NCHW) or [length] of sequences (NCL)")

    @model_validator(mode="after")
    def _something(self) -> "InputTransform":
        if self.channels is None and self.resize is None:
            raise ValueError("input_transform needs `channels`, `resize` or both")
        if self.resize is not None and min(self.resize) < 1:
            raise ValueError(f"input_transform.resize must be positive, got {self.resize}")
        if self.channels is not None and len(set(self.channels)) != len(self.channels):
            raise ValueError(f"input_transform.channels repeats a channel: {self.channels}")
        return self


def transformed_spec(spec, transform: InputTransform | None, what: str = "model"):
    """The input spec of a model reading `transform` of data described by `spec`; a transform that does
    not fit the data's shape is one ConfigError line."""
    if transform is None:
        return spec
    shape, mean, std = list(spec.shape), list(spec.mean), list(spec.std)
    if transform.channels is not None:
        if spec.layout not in ("NCHW", "NCL", "NC"):
            raise ConfigError(f"{what}.input_transform.channels: {spec.layout} data has no channels")
        bad = [c for c in transform.channels if not 0 <= c < shape[0]]
        if bad:
            raise ConfigError(f"{what}.input_transform.channels: channel {bad[0]} does not exist; the data "
                              f"has {shape[0]} (0..{shape[0] - 1}), input shape {tuple(spec.shape)}")
        shape[0] = len(transform.channels)
        mean = [mean[c] for c in transform.channels] if len(mean) == spec.shape[0] else mean
        std = [std[c] for c in transform.channels] if len(std) == spec.shape[0] else std
    if transform.resize is not None:
        spatial = {"NCHW": 2, "NCL": 1}.get(spec.layout)
        if spatial is None or len(transform.resize) != spatial:
            wanted = {"NCHW": "[height, width]", "NCL": "[length]"}.get(spec.layout, "nothing: it cannot be resized")
            raise ConfigError(f"{what}.input_transform.resize: {list(transform.resize)} does not fit {spec.layout} "
                              f"input {tuple(spec.shape)}; it takes {wanted}")
        if any(new > old for new, old in zip(transform.resize, shape[1:])):
            raise ConfigError(f"{what}.input_transform.resize: {list(transform.resize)} is larger than the data "
                              f"({tuple(shape[1:])}); a transform only takes information away")
        shape[1:] = transform.resize
    recorded = {**transform.model_dump(exclude_none=True), "from_shape": list(spec.shape), "algorithm": ALGORITHM}
    words = _describe(transform)
    return dataclasses.replace(spec, shape=tuple(shape), mean=tuple(mean), std=tuple(std),
                               preprocessing=f"{spec.preprocessing}; then {words}" if spec.preprocessing else words,
                               extra={**spec.extra, EXTRA_KEY: recorded})


def _describe(transform: InputTransform) -> str:
    parts = []
    if transform.channels is not None:
        parts.append(f"channels {transform.channels}")
    if transform.resize is not None:
        parts.append(f"area-resized to {'×'.join(map(str, transform.resize))}")
    return " then ".join(parts) + " of the data's input"


def recorded_transform(input_spec) -> dict[str, Any] | None:
    """The transform a model artifact's input spec records (None: it reads the data as it is)."""
    return None if input_spec is None else input_spec.extra.get(EXTRA_KEY)


def apply_transform(recorded: dict[str, Any] | None, inputs):
    """`inputs` (a numpy batch or tensor of the data's shape) as the model reads them."""
    if not recorded:
        return inputs
    import numpy as np
    import torch
    import torch.nn.functional as F

    tensor = torch.from_numpy(np.ascontiguousarray(inputs)) if isinstance(inputs, np.ndarray) else inputs
    if tuple(tensor.shape[1:]) != tuple(recorded["from_shape"]):
        raise ConfigError(f"input_transform: the model reads {recorded['from_shape']} samples transformed, "
                          f"but was fed {list(tensor.shape[1:])}")
    if recorded.get("channels") is not None:
        tensor = tensor[:, recorded["channels"]]
    if recorded.get("resize") is not None:
        tensor = F.interpolate(tensor.float(), size=tuple(recorded["resize"]), mode="area")
    return tensor.contiguous().numpy() if isinstance(inputs, np.ndarray) else tensor  # keeps channels_last


def for_model(dataset, input_spec):
    """`dataset` (inputs + labels) as the model of `input_spec` reads it: the same object when the
    model reads the data as it is."""
    recorded = recorded_transform(input_spec)
    if not recorded:
        return dataset
    return dataclasses.replace(dataset, inputs=apply_transform(recorded, dataset.inputs))


@contextlib.contextmanager
def reading_transformed(model, input_spec):
    """While active, `model` takes the data's full inputs and transforms them itself (a forward
    pre-hook): the trainer, the cached teacher views and feature hooks then work unchanged. Hooks are
    not in the state dict, so the saved weights are the plain student's."""
    recorded = recorded_transform(input_spec)
    if not recorded:
        yield model
        return
    handle = model.register_forward_pre_hook(lambda _module, args: (apply_transform(recorded, args[0]), *args[1:]))
    try:
        yield model
    finally:
        handle.remove()
