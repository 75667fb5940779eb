"""`mutual`: online distillation with no pre-trained teacher (deep mutual learning, Zhang et al.,
CVPR 2018). `peers` copies of the student, each from its own random start, train together: every one
learns from the labels and from the others' current predictions (`kd.losses.mutual_learning_loss`).

The cache does not apply (the targets move every step), so this stage needs no teacher or cache
stage. It runs on the shared trainer (checkpoints, resume, DistributedDataParallel under torchrun):
the peers are one module whose output stacks their logits. Peer 0 is the student later stages
compress and export; picking the best peer by test accuracy would tune on the test set.

With `baseline_seeds`, the whole set is trained again per seed (and, unless `ce_baseline: false`,
the student alone with cross-entropy), so the report of the stage can say whether learning
together helped.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import Field

from edgekd.config import StageConfig
from edgekd.models.spec import ModelSpec
from edgekd.stages.base import Stage
from edgekd.stages.training_config import TrainingConfig


class MutualConfig(StageConfig):
    type: Literal["mutual"] = "mutual"
    student: ModelSpec = ModelSpec(name="fmnist_student")
    peers: int = Field(2, ge=2, description="networks trained together (copies of `student`, own seeds)")
    seed: Optional[int] = None
    # The paper's loss: CE + 1 · KL at T = 1 (the peers' predictions are soft targets as they are).
    # Here `train.alpha` is the KL term's weight λ on top of a full CE term (kd.losses.mutual_learning_loss).
    train: TrainingConfig = TrainingConfig(temperature=1.0, alpha=1.0)
    baseline_seeds: list[int] = []
    ce_baseline: bool = True


class MutualStage(Stage):
    type = "mutual"
    Config = MutualConfig
    distributed = True  # under torchrun: DistributedDataParallel over the peers, rank 0 writes

    def inputs(self, config: MutualConfig, ctx) -> dict[str, Any]:
        from edgekd.models.build import spec_fingerprint

        return spec_fingerprint(config.student)

    def run(self, config: MutualConfig, ctx, out: Path) -> dict[str, Any]:
        from edgekd.model_artifacts import save_model
        from edgekd.models.build import resolve_kwargs
        from edgekd.stages.versus_ce import versus_ce

        from edgekd.data.input_transform import transformed_spec

        seed = ctx.seed if config.seed is None else config.seed
        student_input = transformed_spec(ctx.data.input_spec, config.student.input_transform, "student")
        kwargs = resolve_kwargs(config.student, student_input)
        peers, accuracies = train_peers(config, ctx, kwargs, seed)
        metrics = {**save_model(peers[0], config.student, kwargs, out, student_input),
                   "accuracy": accuracies[0], "peer_accuracies": accuracies, "peers": config.peers, "seed": seed}
        if config.baseline_seeds:
            metrics["mutual_vs_ce"] = versus_ce("mutual", seed, accuracies[0], config, ctx, kwargs,
                                                lambda other: train_peers(config, ctx, kwargs, other)[1][0])
        return metrics


def train_peers(config: MutualConfig, ctx, kwargs: dict, seed: int):
    """The peers trained together from `seed` (each built in turn from one seeded generator, so each
    starts elsewhere), and the test accuracy of each."""
    import contextlib

    import torch

    from edgekd.data.input_transform import reading_transformed, transformed_spec
    from edgekd.kd.mutual import Peers
    from edgekd.kd.trainer import train
    from edgekd.model_artifacts import accuracy, torch_logits
    from edgekd.models.build import build_model
    from edgekd.stages.teacher import check_output_width

    train_set, test = ctx.data.split("train"), ctx.data.split("test")
    torch.manual_seed(seed)
    models = [build_model(config.student.model_copy(update={"kwargs": kwargs}))[0] for _ in range(config.peers)]
    peers = Peers(models)
    recipe = dataclasses.replace(config.train.recipe(), objective="mutual")
    label = f"{config.peers} peers seed {seed}"
    student_input = transformed_spec(ctx.data.input_spec, config.student.input_transform, "student")
    with contextlib.ExitStack() as views:  # cross-input KD: each peer reads the student's view
        for model in models:
            views.enter_context(reading_transformed(model, student_input))
        check_output_width(models[0], ctx, f"student {config.student.label}")
        train(peers, train_set.inputs, train_set.labels, None, recipe, seed, ctx.console, label=label,
              checkpoint=ctx.resume_path(f"mutual-seed{seed}.ckpt"))
        accuracies = [accuracy(torch_logits(model, test.inputs), test.labels) for model in models]
    ctx.console.print(f"{label}: test accuracy " + ", ".join(f"{a:.4f}" for a in accuracies))
    return models, accuracies

