"""Reading intermediate activations of a model by layer name (forward hooks), for feature KD."""

from __future__ import annotations

import contextlib
from typing import Iterator

from torch import nn

from edgekd.errors import ConfigError


def named_layer(model: nn.Module, name: str, role: str) -> nn.Module:
    """The submodule called `name`; a wrong name lists the close ones and the names that exist."""
    layers = dict(model.named_modules())
    if name not in layers or not name:
        import difflib

        names = [n for n in layers if n]
        if not names:
            raise ConfigError(f"{role} ({type(model).__name__}) has no named layers to read features from")
        close = difflib.get_close_matches(name, names, n=3)
        hint = f" did you mean {', '.join(close)}?" if close else ""
        shown = ", ".join(names[:40]) + (f", ... ({len(names)} in all)" if len(names) > 40 else "")
        raise ConfigError(f"{role} has no layer {name!r};{hint} its layers are: {shown}")
    return layers[name]


def check_layer_names(model: nn.Module, names: list[str], role: str) -> None:
    for name in names:
        named_layer(model, name, role)


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
