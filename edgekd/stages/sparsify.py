"""`sparsify`: unstructured magnitude pruning of the student, recovered with KD fine-tuning.

Reported honestly: the sparsity, and the gzip ratio of the weights against the dense student's.
The model stays dense, so its ONNX/TFLite files and latency do not change (the bench rows show it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from edgekd.config import StageConfig
from edgekd.stages.base import Stage
from edgekd.stages.training_config import TrainingConfig

HONEST_NOTE = ("unstructured zeros shrink a compressed download (gzip ratio) but not the dense file, "
               "the parameter count or dense latency")


class SparsifyConfig(StageConfig):
    type: Literal["sparsify"] = "sparsify"
    amount: float = Field(0.5, gt=0.0, lt=1.0, description="fraction of conv/linear weights set to zero")
    finetune: TrainingConfig = TrainingConfig(epochs=1, lr=0.01)


class SparsifyStage(Stage):
    type = "sparsify"
    Config = SparsifyConfig

    def run(self, config: SparsifyConfig, ctx, out: Path) -> dict[str, Any]:
        from edgekd.model_artifacts import WEIGHTS_FILE, load_model, model_fields, save_model
        from edgekd.compress.sparsity import gzip_ratio, magnitude_prune, weight_sparsity
        from edgekd.stages.cache import open_latest_cache
        from edgekd.stages.model_refs import model_artifact
        from edgekd.stages.student_finetune import finetune_with_kd

        source = model_artifact(ctx, "student")
        model = load_model(source)
        targets = open_latest_cache(ctx)
        final_accuracy = magnitude_prune(model, config.amount, lambda: finetune_with_kd(
            model, ctx, targets, config.finetune.recipe(), ctx.seed, "sparsify: KD fine-tune with masks"))
        fields = model_fields(source)
        saved = save_model(model.eval(), fields["spec"], fields["kwargs"], out, fields["input_spec"],
                           fields["shape_changes"])
        sparsity = weight_sparsity(model)
        dense_ratio, sparse_ratio = gzip_ratio(source.file(WEIGHTS_FILE)), gzip_ratio(out / WEIGHTS_FILE)
        ctx.console.print(f"sparsified student: {100 * sparsity:.1f} % zeros, gzip {sparse_ratio:.2f}x "
                          f"(dense {dense_ratio:.2f}x), accuracy {final_accuracy:.4f}; {HONEST_NOTE}")
        return {**saved, "accuracy": final_accuracy, "sparsity": sparsity, "gzip_ratio": sparse_ratio,
                "dense_gzip_ratio": dense_ratio, "note": HONEST_NOTE, "before_accuracy": source.metrics.get("accuracy"),
                "kd_vs_ce": source.metrics.get("kd_vs_ce")}
