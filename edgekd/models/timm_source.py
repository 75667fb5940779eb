"""`timm:<name>`: any architecture timm registers, built offline (weights come from a checkpoint)."""

from __future__ import annotations

from edgekd.errors import CheckpointError

HUB_KWARGS = ("pretrained", "pretrained_cfg_overlay", "checkpoint_path")


def resolve_kwargs(target: str, kwargs: dict, input_spec) -> dict:
    from edgekd.models.library_kwargs import library_kwargs

    return library_kwargs("timm", target, kwargs, input_spec, HUB_KWARGS, "in_chans")


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
