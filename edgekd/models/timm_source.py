"""`timm:<name>`: any architecture timm registers, built offline (weights come from a checkpoint)."""

from __future__ import annotations

from edgekd.errors import CheckpointError

HUB_KWARGS = ("pretrained", "pretrained_cfg_overlay", "checkpoint_path")


def resolve_kwargs(target: str, kwargs: dict, input_spec) -> dict:
    from edgekd.models.hub import refuse_hub_download

    refuse_hub_download("timm", target, kwargs, HUB_KWARGS)
    resolved = dict(kwargs)
    if input_spec is not None:
        if input_spec.num_classes:
            resolved.setdefault("num_classes", input_spec.num_classes)
        if input_spec.layout == "NCHW":
            resolved.setdefault("in_chans", input_spec.channels)
    return resolved


def build(target: str, kwargs: dict):
    import timm

    if not timm.is_model(target):
        import difflib

        close = difflib.get_close_matches(target, timm.list_models(), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise CheckpointError(f"timm has no model {target!r}{hint}")
    try:
        return timm.create_model(target, pretrained=False, **kwargs)
    except TypeError as exc:
        raise CheckpointError(f"timm:{target} does not take these kwargs {sorted(kwargs)}: {exc}") from None


def fingerprint(target: str) -> None:
    return None  # library code: its version is recorded in the environment of every report
