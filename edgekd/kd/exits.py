"""The module self-distillation trains: one network with classifier heads on its shallower layers.

`ExitFamily` runs the backbone once, reads the exit layers' outputs with forward hooks, and returns
the logits of every exit (shallowest first, the backbone's own output last) with each shallow exit's
projected features and the deepest features, for `kd.losses.self_distillation_loss`. The heads'
projections only serve the hint term and are dropped afterwards; `standalone` cuts one exit out as a
model of its own (`builtin:early_exit`).
"""

from __future__ import annotations

import contextlib
from typing import Iterator, NamedTuple, Optional

import torch
from torch import nn

from edgekd.errors import ConfigError
from edgekd.kd.features import named_layer
from edgekd.models.early_exit import ExitHead

DEEPEST = "deepest"  # the name of the backbone's own output among the exits


class ExitOutputs(NamedTuple):
    logits: torch.Tensor  # [exits + 1, batch, classes], shallowest first, the deepest last
    hints: list[torch.Tensor]  # r_i(f_i) of each shallow exit, [batch, D]
    target: Optional[torch.Tensor]  # f_D, the deepest features, [batch, D] (None without hints)


class ExitFamily(nn.Module):
    """`backbone` with an `ExitHead` after each layer in `exits`. The deepest features f_D are the
    output of `hint_layer`, or by default the input of the backbone's last linear layer (its
    penultimate features); each shallow exit's pooled head features are projected to them. `head`
    holds the `ExitHead` settings (channels, stride, pool)."""

    def __init__(self, backbone: nn.Module, exits: list[str], num_classes: int, example: torch.Tensor,
                 head: dict | None = None, hint_weight: float = 0.0, hint_layer: Optional[str] = None):
        super().__init__()
        self.backbone, self.exits, self.hint_weight = backbone, list(exits), hint_weight
        self.hint_layer = _hint_layer(backbone, hint_layer) if hint_weight > 0 else None
        shapes, target_dim = _exit_shapes(backbone, self.exits, self.hint_layer, example)
        self.feature_shapes = [list(shape) for shape in shapes]
        self.head_settings = dict(head or {})  # ExitHead kwargs: channels, stride, pool
        self.heads = nn.ModuleList(ExitHead(shape, num_classes, **self.head_settings) for shape in shapes)
        projections = [nn.Linear(head.embed_dim, target_dim) for head in self.heads] if self.hint_layer else []
        self.projections = nn.ModuleList(projections)  # r_i of the hint term, dropped after training

    @property
    def names(self) -> list[str]:
        return [*self.exits, DEEPEST]

    def forward(self, x: torch.Tensor) -> ExitOutputs:
        with _read(self.backbone, self.exits, self.hint_layer) as (outputs, target):
            deepest = self.backbone(x)
        embeds = [head.embed(outputs[name]) for name, head in zip(self.exits, self.heads)]
        logits = [head.classifier(embed) for embed, head in zip(embeds, self.heads)]
        hints = [projection(embed) for embed, projection in zip(embeds, self.projections)]
        return ExitOutputs(torch.stack([*logits, deepest]), hints, target[-1].flatten(1) if target else None)


def standalone(family: ExitFamily, index: int, backbone_spec: dict, num_classes: int):
    """(model, kwargs) of exit `index` as a `builtin:early_exit` network: built from its kwargs as a
    later stage will rebuild it, with the trained weights of the trunk it keeps and of its head."""
    from edgekd.models.build import instantiate

    kwargs = {"backbone": backbone_spec, "exit_layer": family.exits[index],
              "feature_shape": family.feature_shapes[index], "num_classes": num_classes,
              **{f"head_{key}": value for key, value in family.head_settings.items()}}
    model = instantiate("builtin:early_exit", kwargs)
    trunk, trained = family.backbone.state_dict(), family.heads[index].state_dict()
    state = {**{f"trunk.{key}": trunk[key] for key in model.trunk.state_dict()},
             **{f"head.{key}": value for key, value in trained.items()}}
    model.load_state_dict(state, strict=True)
    return model.eval(), kwargs


def _hint_layer(backbone: nn.Module, name: Optional[str]) -> str:
    """The layer whose output is f_D; by default the last linear layer, whose input is then read."""
    if name:
        named_layer(backbone, name, "hint_layer: the student")
        return name
    linears = [n for n, m in backbone.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ConfigError("hint_layer: the student has no linear layer to read its penultimate features "
                          "from; name the layer whose output the exits' features should match")
    return f"{linears[-1]}:input"


@contextlib.contextmanager
def _read(backbone: nn.Module, exits: list[str], hint_layer: Optional[str]) -> Iterator[tuple[dict, list]]:
    """Within the block, a forward of `backbone` stores each exit layer's output, and f_D."""
    outputs: dict[str, torch.Tensor] = {}
    target: list[torch.Tensor] = []
    handles = []
    for name in exits:
        def store(_module, _inputs, output, name=name):
            outputs[name] = output
        handles.append(backbone.get_submodule(name).register_forward_hook(store))
    if hint_layer and hint_layer.endswith(":input"):
        handles.append(backbone.get_submodule(hint_layer.removesuffix(":input")).register_forward_pre_hook(
            lambda _module, inputs: target.append(inputs[0])))
    elif hint_layer:
        handles.append(backbone.get_submodule(hint_layer).register_forward_hook(
            lambda _module, _inputs, output: target.append(output)))
    try:
        yield outputs, target
    finally:
        for handle in handles:
            handle.remove()


def _exit_shapes(backbone: nn.Module, exits: list[str], hint_layer: Optional[str], example: torch.Tensor):
    """The output shape of each exit layer and the size of f_D, from one forward pass; an exit that is
    not a layer, runs out of forward order or more than once is a one-line error."""
    for name in exits:
        named_layer(backbone, name, "exits: the student")
    finished: list[str] = []
    hooks = [backbone.get_submodule(name).register_forward_hook(lambda *_, name=name: finished.append(name))
             for name in exits]
    was_training = backbone.training
    backbone.eval()
    try:
        with torch.no_grad(), _read(backbone, exits, hint_layer) as (outputs, target):
            backbone(example[:1])
    finally:
        for hook in hooks:
            hook.remove()
        backbone.train(was_training)
    for name in exits:
        if finished.count(name) != 1:
            raise ConfigError(f"exits: layer {name!r} runs {finished.count(name)} times in one forward pass; "
                              "an exit must be a layer that runs once")
    if finished != exits:
        raise ConfigError(f"exits must be in forward order, shallowest first: the student runs them as "
                          f"{', '.join(finished)}")
    return [tuple(outputs[name].shape[1:]) for name in exits], (target[-1][:1].numel() if target else 0)
