"""`teacher`: load a trained teacher from a safetensors checkpoint, or train one, and score it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import PositiveInt

from edgekd.artifacts import file_digest
from edgekd.config import StageConfig
from edgekd.errors import CheckpointError
from edgekd.stages.base import Stage
from edgekd.stages.training_config import TrainingConfig


class TeacherConfig(StageConfig):
    type: Literal["teacher"] = "teacher"
    model: str = "fmnist_teacher"
    width: Optional[PositiveInt] = None
    checkpoint: Optional[str] = None
    train: TrainingConfig = TrainingConfig(epochs=15, alpha=0.0)


class TeacherStage(Stage):
    type = "teacher"
    Config = TeacherConfig

    def inputs(self, config: TeacherConfig, ctx) -> dict[str, Any]:
        if config.checkpoint is None:
            return {}
        path = Path(config.checkpoint)
        if not path.is_file():
            raise CheckpointError(f"teacher checkpoint {path} not found (stages.teacher.checkpoint)")
        return {"checkpoint_sha256": file_digest(path)}

    def run(self, config: TeacherConfig, ctx, out: Path) -> dict[str, Any]:
        from edgekd.checkpoints import load_model
        from edgekd.kd.trainer import train
        from edgekd.model_artifacts import accuracy, save_model, torch_logits
        from edgekd.zoo import build_model

        kwargs = {"width": config.width} if config.width else {}
        if config.checkpoint:
            model = load_model(config.model, config.checkpoint, **kwargs)
            source = config.checkpoint
        else:
            train_set = ctx.data.split("train")
            model = build_model(config.model, **kwargs)
            train(model, train_set.inputs, train_set.labels, None, config.train.recipe(), ctx.seed,
                  ctx.console, label=f"train teacher {config.model}")
            source = "trained"
        test = ctx.data.split("test")
        test_accuracy = accuracy(torch_logits(model, test.inputs), test.labels)
        ctx.console.print(f"teacher {config.model}: test accuracy {test_accuracy:.4f}")
        return {**save_model(model, config.model, kwargs, out), "accuracy": test_accuracy, "source": source}
