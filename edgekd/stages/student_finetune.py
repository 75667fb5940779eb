"""KD fine-tuning shared by the stages that change a trained student (prune, sparsify)."""

from __future__ import annotations


def finetune_with_kd(model, ctx, targets, recipe, seed: int, label: str) -> float:
    """Train `model` in place from the cached teacher `targets`; return its test accuracy."""
    from edgekd.kd.trainer import train
    from edgekd.model_artifacts import accuracy, torch_logits

    train_set, test = ctx.data.split("train"), ctx.data.split("test")
    train(model, train_set.inputs, train_set.labels, targets, recipe, seed, ctx.console, label=label)
    return accuracy(torch_logits(model, test.inputs), test.labels)
