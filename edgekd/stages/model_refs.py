"""Which earlier artifact a model role (`teacher`, `student`) refers to in this pipeline."""

from __future__ import annotations

from typing import Literal

from edgekd.errors import ConfigError

ModelRole = Literal["teacher", "student"]

# The student is whatever the latest model-producing stage made (a later issue adds qat).
STUDENT_STAGES = ("distill", "prune", "sparsify")


def model_artifact(ctx, role: str):
    if role == "teacher":
        return ctx.latest("teacher")
    for name in reversed(list(ctx.artifacts)):
        if ctx.stage_types[name] in STUDENT_STAGES:
            return ctx.artifacts[name]
    raise ConfigError(f"model role {role!r} needs an earlier {' or '.join(STUDENT_STAGES)} stage")


def load_role(ctx, role: str):
    """The PyTorch model (eval mode) playing `role`."""
    from edgekd.model_artifacts import load_model

    return load_model(model_artifact(ctx, role))
