"""`builtin:<name>` (or a bare name): the architectures in `edgekd.zoo`."""

from __future__ import annotations

import inspect

from edgekd.errors import CheckpointError


def _builder(target: str):
    from edgekd.zoo import MODELS

    if target not in MODELS:
        import difflib

        close = difflib.get_close_matches(target, list(MODELS), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise CheckpointError(f"unknown built-in model {target!r}; registered: {', '.join(sorted(MODELS))}{hint}")
    return MODELS[target]


def resolve_kwargs(target: str, kwargs: dict, input_spec) -> dict:
    accepted = inspect.signature(_builder(target)).parameters
    resolved = dict(kwargs)
    if input_spec is not None and input_spec.num_classes and "num_classes" in accepted:
        resolved.setdefault("num_classes", input_spec.num_classes)
    if input_spec is not None and "input_size" in accepted and input_spec.layout == "NCHW":
        resolved.setdefault("input_size", [int(d) for d in input_spec.shape[1:]])  # a low-resolution student
    if input_spec is not None:  # token-id data: the students size their embeddings from it
        for key in ("vocab_size", "pad_id", "max_length"):
            if key in accepted and key in input_spec.extra:
                resolved.setdefault(key, int(input_spec.extra[key]))
    return resolved


def build(target: str, kwargs: dict):
    return _builder(target)(**kwargs)


def weights_kwargs(target: str, kwargs: dict) -> dict:
    """`kwargs` without those that only set starting values (`INIT_ONLY_KWARGS`, e.g. an embedding
    initialised from a teacher folder): a model rebuilt to load its trained weights needs neither
    the work nor the folder."""
    init_only = getattr(_builder(target), "INIT_ONLY_KWARGS", ())
    return {key: value for key, value in kwargs.items() if key not in init_only}


def needs(target: str) -> tuple[str, ...]:
    """Packages beyond torch that building `target` imports (`NEEDS`; e.g. transformers)."""
    return tuple(getattr(_builder(target), "NEEDS", ()))


def fingerprint(target: str) -> None:
    return None  # package code: covered by the package version in every artifact id
