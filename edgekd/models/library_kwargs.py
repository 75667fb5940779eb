"""What the library sources (timm, torchvision) share: the kwargs the data decides, and the offline
rule that pretrained weights come from a checkpoint file only."""

from __future__ import annotations

from edgekd.errors import CheckpointError


def library_kwargs(library: str, target: str, kwargs: dict, input_spec, hub_kwargs: tuple[str, ...],
                   channels_key: str) -> dict:
    """`kwargs` plus `num_classes` and the input channels (under `channels_key`) from the data,
    unless given; refuses kwargs that would download weights."""
    asked = [key for key in hub_kwargs if kwargs.get(key)]
    if asked:
        raise CheckpointError(
            f"{library}:{target}: `{asked[0]}` would download weights from a hub, which edgekd never does; "
            "build the architecture and give the weights as `checkpoint:` (.safetensors or .pt)")
    resolved = dict(kwargs)
    if input_spec is not None:
        if input_spec.num_classes:
            resolved.setdefault("num_classes", input_spec.num_classes)
        if input_spec.layout == "NCHW":
            resolved.setdefault(channels_key, input_spec.channels)
    return resolved
