"""`teacher`: a trained teacher from its checkpoint (or an ONNX file), or one trained here; scored.

`model` is any model spec (`fmnist_teacher`, `timm:resnet18`, `file:my.py:build`, `onnx:t.onnx`, ...).
The number of classes and input channels come from the data; a teacher whose output width is not
the number of classes is refused before anything is trained or cached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import PositiveInt, field_validator

from edgekd.config import StageConfig
from edgekd.errors import CheckpointError, ConfigError
from edgekd.models.spec import ModelSpec
from edgekd.stages.base import Stage
from edgekd.stages.training_config import TrainingConfig


TEST_OUTPUTS_FILE = "test_outputs.npy"  # an embedder teacher's vectors for the test split


class TeacherConfig(StageConfig):
    type: Literal["teacher"] = "teacher"
    model: ModelSpec = ModelSpec(name="fmnist_teacher")
    width: Optional[PositiveInt] = None  # built-in models: shorthand for kwargs.width
    checkpoint: Optional[str] = None  # shorthand for model.checkpoint
    # null: use the model as it is (an hf folder that is already the teacher, e.g. a sentence embedder)
    train: Optional[TrainingConfig] = TrainingConfig(epochs=15, alpha=0.0)

    @field_validator("model")
    @classmethod
    def _reads_the_data(cls, spec: ModelSpec) -> ModelSpec:
        if spec.input_transform is not None:
            raise ValueError("input_transform is for students (cross-input KD); the teacher reads the data as it is")
        return spec

    def spec(self) -> ModelSpec:
        """The model spec with the stage-level shorthands folded in."""
        update: dict[str, Any] = {}
        if self.width:
            update["kwargs"] = {**self.model.kwargs, "width": self.width}
        if self.checkpoint:
            update["checkpoint"] = self.checkpoint
        return self.model.model_copy(update=update)


class TeacherStage(Stage):
    type = "teacher"
    Config = TeacherConfig

    def inputs(self, config: TeacherConfig, ctx) -> dict[str, Any]:
        from edgekd.models.build import spec_fingerprint

        try:
            return spec_fingerprint(config.spec())
        except CheckpointError as exc:
            raise CheckpointError(f"{exc} (stages.{config.stage_name})") from None

    def run(self, config: TeacherConfig, ctx, out: Path) -> dict[str, Any]:
        from edgekd.kd.trainer import train
        from edgekd.model_artifacts import accuracy, per_class_accuracy, save_model, torch_logits
        from edgekd.models.build import build_model, spec_fingerprint

        spec, data_spec = config.spec(), ctx.data.input_spec
        if config.train is None and not (spec.checkpoint or spec.source in ("onnx", "hf")):
            raise ConfigError(f"stages.{config.stage_name}.train: null uses the teacher as it is, but "
                              f"{spec.label} has no trained weights (give a checkpoint, or train it here)")
        model, kwargs = build_model(spec, data_spec)
        check_output_width(model, ctx, f"teacher {spec.label}")
        if spec.checkpoint or spec.source == "onnx" or config.train is None:
            source = spec.checkpoint or spec.target
        else:
            train_set = ctx.data.split("train")
            train(model, train_set.inputs, train_set.labels, None, config.train.recipe(), ctx.seed,
                  ctx.console, label=f"train teacher {spec.label}")
            source = "trained"
        test = ctx.data.split("test")
        logits = torch_logits(model, test.inputs)
        saved = save_model(model, spec, kwargs, out, data_spec)
        notes = {"data_notes": ctx.data.raw.description} if ctx.data.raw.tokens else {}
        if not ctx.data.raw.labelled:  # unlabeled data: an embedder; students are scored against these
            import numpy as np

            np.save(out / TEST_OUTPUTS_FILE, logits.astype(np.float32))
            ctx.console.print(f"teacher {spec.label}: {logits.shape[1]}-d outputs on {len(logits)} test samples")
            return {**saved, **notes, "accuracy": None, "output_dim": int(logits.shape[1]), "source": source,
                    "test_outputs": TEST_OUTPUTS_FILE, "source_fingerprint": spec_fingerprint(spec)}
        test_accuracy = accuracy(logits, test.labels)
        ctx.console.print(f"teacher {spec.label}: test accuracy {test_accuracy:.4f}")
        return {**saved, **notes, "accuracy": test_accuracy, "source": source,
                "per_class_accuracy": per_class_accuracy(logits, test.labels, data_spec.class_names),
                "source_fingerprint": spec_fingerprint(spec)}


def check_output_width(model, ctx, what: str) -> None:
    """One forward pass on a training sample: the model must take the data and give one logit per class."""
    import torch

    from edgekd.errors import DataError

    check_vocabulary(model, ctx.data.input_spec, what)
    sample = torch.from_numpy(ctx.data.split("train").inputs[:2])
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            width = model(sample).shape[-1]
    except RuntimeError as exc:
        raise DataError(f"{what} cannot take this data's samples of shape {list(sample.shape[1:])}: "
                        f"{str(exc).strip().splitlines()[0]}") from None
    finally:
        model.train(was_training)
    if ctx.data.raw.labelled and width != ctx.data.num_classes:  # unlabeled data: any output width
        raise ConfigError(f"{what} outputs {width} values per sample but the data has "
                          f"{ctx.data.num_classes} classes; set num_classes in the model's kwargs "
                          "or use a checkpoint trained on these classes")



def check_vocabulary(model, input_spec, what: str) -> None:
    """Token-id data: a model's token embedding must have one row per id of the data's tokenizer.
    Teacher and student read the same ids, so their vocabularies must be the same one; a smaller
    table would fail on some ids, a larger one would mean the ids are another tokenizer's."""
    from torch import nn

    vocab = input_spec.extra.get("vocab_size") if input_spec is not None else None
    if vocab is None:
        return
    from edgekd.text.vocabulary import reads_ids

    embedding = next((m for m in model.modules() if isinstance(m, nn.Embedding)), None)
    # A student pruned to its training tokens reads every id through its lookup table.
    reads = reads_ids(model) or (embedding.num_embeddings if embedding is not None else None)
    if reads is not None and reads != vocab:
        raise ConfigError(f"{what} embeds {reads} token ids but the data's tokenizer "
                          f"({input_spec.extra.get('tokenizer')}) has {vocab}: teacher and student must "
                          "share the tokenizer whose ids they read")
