"""`prune`: structured channel pruning of the student to a MAC target, recovered with KD fine-tuning.

Any model torch-pruning can trace. The pruned student is saved as plain safetensors plus the module
attributes pruning changed (`edgekd.models.reshape`): a fresh build of the same spec is resized to the
saved shapes and loaded strictly, so every later stage (ptq, exports, bench) sees it as the student. Fine-tuning after each stage uses the teacher cache: distillation recovers accuracy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import Field, PositiveInt

from edgekd.config import StageConfig
from edgekd.errors import ConfigError
from edgekd.stages.base import Stage
from edgekd.stages.training_config import TrainingConfig

class PruneConfig(StageConfig):
    type: Literal["prune"] = "prune"
    keep_macs: float = Field(0.5, gt=0.0, lt=1.0, description="fraction of the student's MACs to keep")
    stages: PositiveInt = Field(4, description="gradual schedule: equal MAC cuts, fine-tuning after each")
    round_to: Optional[PositiveInt] = Field(None, description="keep channel counts multiples of this")
    finetune: TrainingConfig = TrainingConfig(epochs=1, lr=0.01)
    final_epochs: int = Field(1, ge=0, description="extra KD fine-tuning epochs after the last cut")


class PruneStage(Stage):
    type = "prune"
    Config = PruneConfig

    def run(self, config: PruneConfig, ctx, out: Path) -> dict[str, Any]:
        import dataclasses

        import torch

        from edgekd.bench.macs import forward_macs
        from edgekd.compress.pruning import prune_channels
        from edgekd.model_artifacts import load_model, model_fields, save_model
        from edgekd.models.build import instantiate_for_weights
        from edgekd.models.reshape import changed_attributes, shape_attributes
        from edgekd.stages.cache import open_latest_cache
        from edgekd.stages.model_refs import model_artifact, role_split
        from edgekd.stages.student_finetune import finetune_with_kd

        source = model_artifact(ctx, "student")
        fields = model_fields(source)
        model = load_model(source)
        targets = open_latest_cache(ctx)
        example = torch.from_numpy(role_split(ctx, "student", "train").inputs[:1])
        before = {"macs": forward_macs(model, example), "params": sum(p.numel() for p in model.parameters()),
                  "accuracy": source.metrics.get("accuracy")}

        def finetune(stage: int, epochs: int | None = None) -> float:
            recipe = config.finetune.recipe()
            if epochs is not None:
                recipe = dataclasses.replace(recipe, epochs=epochs)
            return finetune_with_kd(model, ctx, targets, recipe, ctx.seed + stage, f"prune stage {stage}: KD fine-tune")

        try:
            history = prune_channels(model, example, config.keep_macs, config.stages, finetune, config.round_to)
        except (RuntimeError, ValueError, AssertionError, KeyError) as exc:  # torch-pruning cannot trace it
            raise ConfigError(f"stages.{config.stage_name}: torch-pruning cannot prune {source.metrics['model']}: "
                              f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}") from exc
        final_accuracy = history[-1]["accuracy"]
        if config.final_epochs:
            final_accuracy = finetune(config.stages + 1, config.final_epochs)
        fresh = instantiate_for_weights(fields["spec"], fields["kwargs"])  # only its shapes are read
        changes = changed_attributes(shape_attributes(fresh), shape_attributes(model))
        ctx.console.print(f"pruned student: {before['macs']:,} -> {history[-1]['macs']:,} MACs, "
                          f"{len(changes)} modules resized, accuracy {final_accuracy:.4f}")
        saved = save_model(model.eval(), fields["spec"], fields["kwargs"], out, fields["input_spec"], changes)
        return {**saved, "accuracy": final_accuracy, "macs": history[-1]["macs"], "before": before,
                "macs_ratio": history[-1]["macs"] / before["macs"], "params_ratio": saved["params"] / before["params"],
                "stages": history, "kd_vs_ce": source.metrics.get("kd_vs_ce")}
