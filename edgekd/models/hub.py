"""Offline rule shared by the library sources: pretrained weights come from a checkpoint file only."""

from __future__ import annotations

from edgekd.errors import CheckpointError


def refuse_hub_download(library: str, target: str, kwargs: dict, hub_kwargs: tuple[str, ...]) -> None:
    asked = [key for key in hub_kwargs if kwargs.get(key)]
    if asked:
        raise CheckpointError(
            f"{library}:{target}: `{asked[0]}` would download weights from a hub, which edgekd never does; "
            "build the architecture and give the weights as `checkpoint:` (.safetensors or .pt)")
