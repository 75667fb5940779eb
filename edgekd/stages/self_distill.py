"""`self_distill`: self-distillation with auxiliary heads ("Be Your Own Teacher", Zhang et al., ICCV
2019). Classifier heads after the student's shallower layers (`exits`) learn from its deepest head
(KD at temperature T) and match its deepest features (a hint), all in one training run from scratch
(`kd.losses.self_distillation_loss`); no teacher or cache stage is needed.

The result is a family of early-exit students. Every exit is scored on the test split as the
standalone network it would ship as (the backbone cut after its layer, plus its head: later layers
gone) with its parameters and its fp32 ONNX Runtime latency at batch 1, one thread. `export_exit`
(default: the shallowest) is saved as the stage's model, a `builtin:early_exit` that later stages
rebuild from its kwargs and export as any other; `deepest` saves the student itself.

With `baseline_seeds`, the family is trained again per seed (and, unless `ce_baseline: false`, the
student alone with cross-entropy, the `distill` stage's own run), so the deepest exit can be compared
with the student trained without the heads.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveInt, field_validator, model_validator

from edgekd.config import StageConfig, StrictModel
from edgekd.models.spec import ModelSpec
from edgekd.stages.base import Stage
from edgekd.stages.training_config import TrainingConfig

DEEPEST = "deepest"  # = kd.exits.DEEPEST, not imported: that would bring torch into validation


class ExitHeadConfig(StrictModel):
    """The classifier at each shallow exit (the paper's bottleneck + pooling + linear layer). The
    defaults suit small inputs: on Fashion-MNIST (3k images, 2 epochs) heads after `fmnist_student`'s
    two blocks reached 80 / 78 % test accuracy flattening the map of a 16-channel stride-2 conv,
    against 73 / 78 % pooling a 32-channel one to 4×4 and 35 / 47 % with the paper's global pool.
    Set `pool` for large maps, where a flattened map makes a large linear layer."""

    channels: NonNegativeInt = Field(16, description="3×3 conv + BN + ReLU width; 0: no conv")
    stride: PositiveInt = Field(2, description="stride of that conv")
    pool: Optional[PositiveInt] = Field(None, description="average-pool the map to pool × pool (a divisor "
                                        "of its sides); null: flatten it")


class SelfDistillConfig(StageConfig):
    type: Literal["self_distill"] = "self_distill"
    student: ModelSpec = ModelSpec(name="fmnist_student")
    exits: list[str] = Field(["features.3"], min_length=1,
                             description="layers (named_modules paths) followed by a head, shallowest first")
    head: ExitHeadConfig = ExitHeadConfig()
    hint_weight: NonNegativeFloat = Field(0.03, description="λ of the feature hint to the deepest features")
    hint_layer: Optional[str] = Field(None, description="layer whose output is f_D; default: the input of "
                                      "the student's last linear layer")
    export_exit: Optional[str] = Field(None, description="the exit saved as the model: a name in `exits` "
                                       "or `deepest` (the student itself); default: the shallowest")
    seed: Optional[int] = None
    train: TrainingConfig = TrainingConfig(temperature=3.0, alpha=0.3)
    min_seconds: NonNegativeFloat = Field(1.0, description="per exit, for its ONNX Runtime latency")
    baseline_seeds: list[int] = []
    ce_baseline: bool = True

    @field_validator("student")
    @classmethod
    def _trainable(cls, spec: ModelSpec) -> ModelSpec:
        if spec.source == "onnx":
            raise ValueError("an onnx: model cannot be trained; the student must be PyTorch")
        if getattr(spec, "input_transform", None) is not None:
            raise ValueError("input_transform (cross-input KD) is not supported by self_distill: the exits read the data")
        return spec

    @model_validator(mode="after")
    def _known_exits(self) -> "SelfDistillConfig":
        repeated = sorted({name for name in self.exits if self.exits.count(name) > 1})
        if repeated:
            raise ValueError(f"exits: {', '.join(repeated)} listed more than once")
        if DEEPEST in self.exits:
            raise ValueError(f"exits: {DEEPEST!r} is the student's own output, always an exit; list shallower layers")
        if self.export_exit is not None and self.export_exit not in [*self.exits, DEEPEST]:
            raise ValueError(f"export_exit: {self.export_exit!r} is not among the exits "
                             f"({', '.join([*self.exits, DEEPEST])})")
        return self

    @property
    def chosen_exit(self) -> str:
        return self.export_exit or self.exits[0]


class SelfDistillStage(Stage):
    type = "self_distill"
    Config = SelfDistillConfig

    def inputs(self, config: SelfDistillConfig, ctx) -> dict[str, Any]:
        from edgekd.models.build import spec_fingerprint

        return spec_fingerprint(config.student)

    def run(self, config: SelfDistillConfig, ctx, out: Path) -> dict[str, Any]:
        from edgekd.model_artifacts import save_model
        from edgekd.models.build import resolve_kwargs
        from edgekd.stages.versus_ce import versus_ce

        seed = ctx.seed if config.seed is None else config.seed
        kwargs = resolve_kwargs(config.student, ctx.data.input_spec)
        family = train_family(config, ctx, kwargs, seed)
        networks = exit_networks(family, config, kwargs, ctx)
        exits = [score_exit(name, model, ctx, config.min_seconds) for name, (model, _, _) in networks.items()]
        model, spec, model_kwargs = networks[config.chosen_exit]
        chosen = next(record for record in exits if record["name"] == config.chosen_exit)
        metrics = {**save_model(model, spec, model_kwargs, out, ctx.data.input_spec), "accuracy": chosen["accuracy"],
                   "export_exit": config.chosen_exit, "exits": exits, "seed": seed}
        if config.baseline_seeds:
            metrics["self_distill_vs_ce"] = versus_ce(
                "self_distill", seed, exits[-1]["accuracy"], config, ctx, kwargs,
                lambda other: _deepest_accuracy(train_family(config, ctx, kwargs, other), ctx))
        return metrics


def train_family(config: SelfDistillConfig, ctx, kwargs: dict, seed: int):
    """The student with its exit heads, trained from `seed` (checkpointed each epoch, resumable)."""
    import torch

    from edgekd.kd.exits import ExitFamily
    from edgekd.kd.trainer import train
    from edgekd.models.build import build_model
    from edgekd.stages.teacher import check_output_width

    train_set = ctx.data.split("train")
    torch.manual_seed(seed)
    student = build_model(config.student.model_copy(update={"kwargs": kwargs}))[0]
    check_output_width(student, ctx, f"student {config.student.label}")
    family = ExitFamily(student, config.exits, ctx.data.num_classes, torch.from_numpy(train_set.inputs[:1]),
                        config.head.model_dump(), config.hint_weight, config.hint_layer)
    recipe = dataclasses.replace(config.train.recipe(), objective="self_distill")
    train(family, train_set.inputs, train_set.labels, None, recipe, seed, ctx.console,
          label=f"self-distill {len(family.names)} exits seed {seed}",
          checkpoint=ctx.resume_path(f"self-distill-seed{seed}.ckpt"))
    return family


def exit_networks(family, config: SelfDistillConfig, kwargs: dict, ctx) -> dict[str, tuple]:
    """Each exit as (standalone model, spec, kwargs), shallowest first; the deepest is the student.
    A cut network must give its exit's logits: checked on test images, since a layer whose output is
    not all the later layers read (a skip connection around it) would silently differ."""
    import numpy as np
    import torch

    from edgekd.errors import ConfigError
    from edgekd.kd.exits import standalone

    backbone = {"name": config.student.name, "kwargs": kwargs}
    sample = torch.from_numpy(ctx.data.split("test").inputs[:64])
    with torch.no_grad():
        expected = family.eval()(sample).logits.numpy()
    networks = {}
    for index, name in enumerate(config.exits):
        model, model_kwargs = standalone(family, index, backbone, ctx.data.num_classes)
        with torch.no_grad():
            gap = float(np.abs(model(sample).numpy() - expected[index]).max())
        if gap > 1e-4:
            raise ConfigError(f"exits: the student cut after {name!r} does not give that exit's logits "
                              f"(max |Δ| {gap:.2e}); later layers read more than that layer's output")
        networks[name] = (model, "builtin:early_exit", model_kwargs)
    networks[DEEPEST] = (family.backbone.eval(), config.student, kwargs)
    return networks


def score_exit(name: str, model, ctx, min_seconds: float) -> dict[str, Any]:
    """Test accuracy, parameters and fp32 ONNX Runtime latency (batch 1, one thread) of one exit."""
    from edgekd.model_artifacts import accuracy, torch_logits
    from edgekd.zoo import count_params

    test = ctx.data.split("test")
    record = {"name": name, "accuracy": accuracy(torch_logits(model, test.inputs), test.labels),
              "params": count_params(model), **_onnx_latency(model, test.inputs[:1], min_seconds)}
    latency = f"{record['ort_ms_p50']:.3f} ms" if record["ort_ms_p50"] is not None else "no ONNX latency"
    ctx.console.print(f"exit {name}: test accuracy {record['accuracy']:.4f}, {record['params']:,} params, {latency}")
    return record


def _onnx_latency(model, sample, min_seconds: float) -> dict[str, Any]:
    """p50 latency of the exit exported to fp32 ONNX; an exit the exporter refuses says why instead."""
    import tempfile

    from edgekd.bench.latency import measure_latency
    from edgekd.export.onnx_export import export_onnx
    from edgekd.runtimes.onnxruntime_rt import OrtRuntime

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "exit.onnx"
        try:
            export_onnx(model, sample, path)
            runtime = OrtRuntime(path, threads=1)
        except Exception as exc:  # a record with the reason, as export stages keep a failed row
            return {"ort_ms_p50": None, "ort_error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"}
        return {"ort_ms_p50": measure_latency(runtime.run, sample, min_seconds=min_seconds)["latency_ms_p50"]}


def _deepest_accuracy(family, ctx) -> float:
    from edgekd.model_artifacts import accuracy, torch_logits

    test = ctx.data.split("test")
    return accuracy(torch_logits(family.backbone.eval(), test.inputs), test.labels)

