"""Build a model from its spec: resolve what the data decides, instantiate, load the checkpoint."""

from __future__ import annotations

from typing import Any

from edgekd.models.registry import source_module
from edgekd.models.spec import ModelSpec, parse_spec


def resolve_kwargs(spec: ModelSpec, input_spec=None) -> dict[str, Any]:
    """The builder's kwargs with `num_classes` / input channels filled in from the data."""
    return source_module(spec.source).resolve_kwargs(spec.target, spec.kwargs, input_spec)


def instantiate(spec: ModelSpec | str, kwargs: dict[str, Any]):
    """A fresh (randomly initialised) model of this spec with fully resolved kwargs."""
    spec = parse_spec(spec)
    return source_module(spec.source).build(spec.target, kwargs)


def instantiate_for_weights(spec: ModelSpec | str, kwargs: dict[str, Any]):
    """The architecture to load trained weights into: as `instantiate`, without a built-in model's
    init-only kwargs (their starting values would be overwritten anyway)."""
    spec = parse_spec(spec)
    if spec.source == "builtin":
        from edgekd.models.builtin import weights_kwargs

        kwargs = weights_kwargs(spec.target, kwargs)
    return instantiate(spec, kwargs)


def build_model(spec: ModelSpec | str, input_spec=None, load_checkpoint: bool = True):
    """(model, resolved kwargs): the architecture for this data, with the spec's checkpoint loaded."""
    from edgekd.models.checkpoints import load_state_strict, read_state_dict, strip_key_prefix

    spec = parse_spec(spec)
    kwargs = resolve_kwargs(spec, input_spec)
    model = instantiate(spec, kwargs)
    if load_checkpoint and spec.checkpoint:
        state = strip_key_prefix(read_state_dict(spec.checkpoint), spec.strip_prefix)
        load_state_strict(model, state, spec.checkpoint, repr(spec.label))
    return model, kwargs


def spec_fingerprint(spec: ModelSpec | str) -> dict[str, Any]:
    """What outside the config a model depends on: the user's code file and the checkpoint's bytes.
    Goes into the artifact id of the stage that names the spec, so editing either rebuilds it."""
    from pathlib import Path

    from edgekd.artifacts import file_digest
    from edgekd.errors import CheckpointError

    spec = parse_spec(spec)
    found: dict[str, Any] = {}
    code = source_module(spec.source).fingerprint(spec.target)
    if code:
        found["code_sha256"] = code
    named = _kwarg_folders(spec.kwargs)
    if named:
        found["kwarg_files_sha256"] = named
    if spec.checkpoint:
        path = Path(spec.checkpoint)
        if not path.is_file():
            raise CheckpointError(f"checkpoint {path} not found (model {spec.label})")
        found["checkpoint_sha256"] = file_digest(path)
    return found


def _kwarg_folders(kwargs: dict[str, Any]) -> dict[str, str]:
    """Digests of the Hugging Face folders a builder's kwargs name (`embedding_init: pkg://...`): what
    they hold shapes the model as much as its code does."""
    from edgekd.models.hf_source import check_folder, fingerprint

    found = {}
    for key, value in kwargs.items():
        if isinstance(value, str) and (value.startswith("pkg://") or "/" in value):
            try:
                check_folder(value)
            except Exception:  # not a model folder: an ordinary string argument
                continue
            found[key] = fingerprint(value)
    return found
