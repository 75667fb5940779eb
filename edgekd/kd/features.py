"""Reading intermediate activations of a model by layer name (forward hooks), for feature KD."""

from __future__ import annotations

import contextlib
from typing import Iterator

from torch import nn

from edgekd.errors import ConfigError


def named_layer(model: nn.Module, name: str, role: str) -> nn.Module:
    layers = dict(model.named_modules())
    if name not in layers or not name:
        choices = ", ".join(n for n in layers if n)
        raise ConfigError(f"{role} has no layer {name!r}; its layers are: {choices}")
    return layers[name]


@contextlib.contextmanager
def capture(model: nn.Module, layers: list[str], role: str = "model") -> Iterator[dict]:
    """Within the block, every forward of `model` stores the named layers' outputs in the dict."""
    captured: dict = {}
    handles = []
    for name in layers:
        def hook(_module, _inputs, output, name=name):
            captured[name] = output
        handles.append(named_layer(model, name, role).register_forward_hook(hook))
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()
