"""Rebuild a channel-pruned model safely: a fresh architecture resized to the saved tensor shapes.

torch-pruning's own save/load pickles module objects (it needs `weights_only=False`), so a pruned
model is stored as plain safetensors plus, per module, the channel attributes pruning changed. To load,
build the architecture as usual, give every parameter and buffer whose shape differs an empty tensor
of the saved shape, set the recorded attributes, then load the weights strictly. This is generic: no
code per architecture, and nothing that can execute code is read.
"""

from __future__ import annotations

from typing import Any

# Module attributes that describe tensor shapes and that channel pruning rewrites.
SHAPE_ATTRIBUTES = ("in_channels", "out_channels", "groups", "in_features", "out_features", "num_features",
                    "normalized_shape", "num_embeddings", "embedding_dim")


def shape_attributes(model) -> dict[str, dict[str, Any]]:
    """Per module name, the shape attributes it has (JSON-ready)."""
    found: dict[str, dict[str, Any]] = {}
    for name, module in model.named_modules():
        values = {attr: getattr(module, attr) for attr in SHAPE_ATTRIBUTES if hasattr(module, attr)}
        values = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()
                  if isinstance(v, (int, tuple)) and not isinstance(v, bool)}
        if values:
            found[name] = values
    return found


def changed_attributes(before: dict, after: dict) -> dict[str, dict[str, Any]]:
    """The attributes pruning changed: what a fresh model must be given to match the pruned one."""
    return {name: {k: v for k, v in values.items() if before.get(name, {}).get(k) != v}
            for name, values in after.items() if values != before.get(name)}


def resize_to(model, state: dict, attributes: dict[str, dict[str, Any]]) -> None:
    """Give `model` the shapes of `state` and the recorded attributes, in place (values are loaded next)."""
    import torch

    for name, values in attributes.items():
        module = model.get_submodule(name)
        for attr, value in values.items():
            setattr(module, attr, tuple(value) if isinstance(value, list) else value)
    for name, module in model.named_modules():
        prefix = f"{name}." if name else ""
        for key, param in list(module._parameters.items()):
            saved = state.get(prefix + key)
            if param is not None and saved is not None and saved.shape != param.shape:
                module._parameters[key] = torch.nn.Parameter(torch.empty(saved.shape, dtype=param.dtype),
                                                             requires_grad=param.requires_grad)
        for key, buffer in list(module._buffers.items()):
            saved = state.get(prefix + key)
            if buffer is not None and saved is not None and saved.shape != buffer.shape:
                module._buffers[key] = torch.empty(saved.shape, dtype=buffer.dtype)
