"""Which earlier artifact a model role (`teacher`, `student`) refers to in this pipeline."""

from __future__ import annotations

from typing import Literal

from edgekd.errors import ConfigError

ModelRole = Literal["teacher", "student"]

# The student is whatever the latest model-producing stage made. qat is not one of them: it makes
# the student's int8 version, found through `quantizer_artifact`.
STUDENT_STAGES = ("distill", "mutual", "self_distill", "prune", "sparsify")
QUANTIZING_STAGES = ("ptq", "qat")


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


def quantizer_artifact(ctx, role: str):
    """(stage name, artifact) of the latest ptq or qat stage that quantised `role`: its ranges make the
    int8 files."""
    for name in reversed(list(ctx.artifacts)):
        if ctx.stage_types[name] in QUANTIZING_STAGES and role in ctx.artifacts[name].metrics["models"]:
            return name, ctx.artifacts[name]
    raise ConfigError(f"int8 export of {role!r} needs an earlier ptq stage quantising it (ptq.models)"
                      + (" or a qat stage" if role == "student" else ""))


def role_input_spec(ctx, role: str):
    """The input spec of the model playing `role`: the data's, or the view a cross-input student
    reads (its artifact records it)."""
    from edgekd.model_artifacts import input_spec_of

    return input_spec_of(model_artifact(ctx, role)) or ctx.data.input_spec


def role_split(ctx, role: str, name: str):
    """Split `name` of the pipeline's data as the model playing `role` reads it."""
    from edgekd.data.input_transform import for_model

    return for_model(ctx.data.split(name), role_input_spec(ctx, role))
