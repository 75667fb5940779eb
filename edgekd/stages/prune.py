"""`prune`: structured channel pruning of the student to a MAC target, recovered with KD fine-tuning.

The pruned student is a smaller model of the same family (fewer channels), saved with the
constructor arguments that rebuild it, so every later stage (ptq, exports, bench) sees it as the
student. Fine-tuning after each stage uses the teacher cache: distillation recovers accuracy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import Field, PositiveInt

from edgekd.config import StageConfig
from edgekd.errors import ConfigError
from edgekd.stages.base import Stage
from edgekd.stages.training_config import TrainingConfig

PRUNABLE = ("fmnist_student",)


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
        from edgekd.model_artifacts import load_model, save_model
        from edgekd.pruning import prune_channels, student_kwargs
        from edgekd.stages.cache import open_latest_cache
        from edgekd.stages.model_refs import model_artifact
        from edgekd.stages.student_finetune import finetune_with_kd

        source = model_artifact(ctx, "student")
        if source.metrics["model"] not in PRUNABLE:
            raise ConfigError(f"stages.{config.stage_name}: prune supports {', '.join(PRUNABLE)}, "
                              f"not {source.metrics['model']!r}")
        model = load_model(source)
        targets = open_latest_cache(ctx)
        example = torch.from_numpy(ctx.data.split("train").inputs[:1])
        before = {"macs": forward_macs(model, example), "params": sum(p.numel() for p in model.parameters()),
                  "accuracy": source.metrics.get("accuracy")}

        def finetune(stage: int, epochs: int | None = None) -> float:
            recipe = config.finetune.recipe()
            if epochs is not None:
                recipe = dataclasses.replace(recipe, epochs=epochs)
            return finetune_with_kd(model, ctx, targets, recipe, ctx.seed + stage, f"prune stage {stage}: KD fine-tune")

        history = prune_channels(model, example, config.keep_macs, config.stages, finetune, config.round_to)
        final_accuracy = history[-1]["accuracy"]
        if config.final_epochs:
            final_accuracy = finetune(config.stages + 1, config.final_epochs)
        kwargs = student_kwargs(model)
        ctx.console.print(f"pruned student: {before['macs']:,} -> {history[-1]['macs']:,} MACs, "
                          f"channels {kwargs['channels']}, hidden {kwargs['hidden']}, accuracy {final_accuracy:.4f}")
        saved = save_model(model.eval(), source.metrics["model"], kwargs, out)
        return {**saved, "accuracy": final_accuracy, "macs": history[-1]["macs"], "before": before,
                "macs_ratio": history[-1]["macs"] / before["macs"], "params_ratio": saved["params"] / before["params"],
                "stages": history, "kd_vs_ce": source.metrics.get("kd_vs_ce")}
