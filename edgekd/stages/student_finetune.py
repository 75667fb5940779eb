"""KD fine-tuning shared by the stages that change a trained student (prune, sparsify, qat)."""

from __future__ import annotations


def finetune_with_kd(model, ctx, targets, recipe, seed: int, label: str, checkpoint=None) -> float:
    """Train `model` in place from the cached teacher `targets`; return its test accuracy.

    With `checkpoint` (a path in the stage's resume folder) a killed run resumes after its last epoch.
    """
    from edgekd.data.input_transform import reading_transformed
    from edgekd.kd.trainer import train
    from edgekd.model_artifacts import accuracy, torch_logits
    from edgekd.stages.model_refs import role_input_spec

    train_set, test = ctx.data.split("train"), ctx.data.split("test")
    # The cache is aligned with the data's samples; a cross-input student transforms each batch itself.
    with reading_transformed(model, role_input_spec(ctx, "student")):
        train(model, train_set.inputs, train_set.labels, targets, recipe, seed, ctx.console, label=label,
              checkpoint=checkpoint)
        return accuracy(torch_logits(model, test.inputs), test.labels)
