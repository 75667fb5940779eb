"""`torchvision:<name>`: a torchvision classification architecture, built offline.

torchvision's builders take no input-channel argument; for data with other than 3 channels the stem
conv (the first Conv2d) is replaced by one with the data's channel count, same kernel and stride.
"""

from __future__ import annotations

from edgekd.errors import CheckpointError

HUB_KWARGS = ("weights", "pretrained", "weights_backbone")


def resolve_kwargs(target: str, kwargs: dict, input_spec) -> dict:
    from edgekd.models.library_kwargs import library_kwargs

    return library_kwargs("torchvision", target, kwargs, input_spec, HUB_KWARGS, "in_channels")


def build(target: str, kwargs: dict):
    import torchvision

    kwargs = dict(kwargs)
    in_channels = kwargs.pop("in_channels", 3)
    names = torchvision.models.list_models()
    if target not in names:
        import difflib

        close = difflib.get_close_matches(target, names, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise CheckpointError(f"torchvision has no model {target!r}{hint}")
    try:
        model = torchvision.models.get_model(target, weights=None, **kwargs)
    except TypeError as exc:
        raise CheckpointError(f"torchvision:{target} does not take these kwargs {sorted(kwargs)}: {exc}") from None
    if in_channels != 3:
        _replace_stem(model, in_channels)
    return model


def _replace_stem(model, in_channels: int) -> None:
    from torch import nn

    name, stem = next((n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d))
    parent = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
    setattr(parent, name.rsplit(".", 1)[-1], nn.Conv2d(
        in_channels, stem.out_channels, stem.kernel_size, stem.stride, stem.padding, stem.dilation,
        bias=stem.bias is not None))


def fingerprint(target: str) -> None:
    return None
