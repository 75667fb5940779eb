"""`distill`: train the student from the cached teacher logits (Hinton KD), and measure KD vs CE.

The student trained with `seed` is the artifact later stages compress and export. With
`baseline_seeds`, the same student is also trained with KD and with cross-entropy alone for each seed
(same epochs, same schedule), so the report can say whether distillation actually helped.
"""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import NonNegativeFloat, PositiveInt, field_validator

from edgekd.config import StageConfig, StrictModel
from edgekd.models.spec import ModelSpec
from edgekd.stages.base import Stage
from edgekd.stages.transfer_set import training_split
from edgekd.stages.training_config import TrainingConfig


class HintConfig(StrictModel):
    """Feature KD (FitNets): match a student layer to a cached teacher layer through a projection."""

    student_layer: str
    teacher_layer: str
    weight: NonNegativeFloat = 1.0


class RelationConfig(StrictModel):
    """Relation KD (RKD): match pairwise distances and triplet angles of two layers' embeddings."""

    student_layer: str
    teacher_layer: str
    distance_weight: NonNegativeFloat = 25.0
    angle_weight: NonNegativeFloat = 50.0


class DistillConfig(StageConfig):
    type: Literal["distill"] = "distill"
    student: ModelSpec = ModelSpec(name="fmnist_student")
    width: Optional[PositiveInt] = None  # built-in models: shorthand for kwargs.width
    seed: Optional[int] = None
    train: TrainingConfig = TrainingConfig()
    hints: list[HintConfig] = []
    relations: list[RelationConfig] = []
    baseline_seeds: list[int] = [0, 1, 2]
    ce_baseline: bool = True  # false: KD runs per seed only (a variant whose CE runs exist elsewhere)
    # logits: KD on class logits (+ CE on labels); embedding: regress an embedder teacher's cached
    # vectors (cosine + MSE, no labels), scored by retrieval against the teacher's test vectors.
    objective: Literal["logits", "embedding"] = "logits"

    @field_validator("student")
    @classmethod
    def _trainable(cls, spec: ModelSpec) -> ModelSpec:
        if spec.source == "onnx":
            raise ValueError("an onnx: model cannot be trained; it can be a teacher, the student must be PyTorch")
        return spec

    def spec(self) -> ModelSpec:
        if not self.width:
            return self.student
        return self.student.model_copy(update={"kwargs": {**self.student.kwargs, "width": self.width}})


class DistillStage(Stage):
    type = "distill"
    Config = DistillConfig
    distributed = True  # under torchrun: DistributedDataParallel, rank 0 writes

    def inputs(self, config: DistillConfig, ctx) -> dict[str, Any]:
        from edgekd.models.build import spec_fingerprint

        return spec_fingerprint(config.spec())

    def run(self, config: DistillConfig, ctx, out: Path) -> dict[str, Any]:
        from edgekd.model_artifacts import save_model
        from edgekd.models.build import resolve_kwargs
        from edgekd.stages.cache import open_latest_cache

        teacher_logits = open_latest_cache(ctx)
        seed = ctx.seed if config.seed is None else config.seed
        student_input = student_input_spec(config, ctx)
        kwargs = with_training_vocabulary(resolve_kwargs(config.spec(), student_input), ctx)
        if config.objective == "embedding":
            kwargs.setdefault("num_classes", teacher_logits.index["num_classes"])  # the teacher's width
        from edgekd.stages.distill_workers import train_in_parallel

        threads, fresh = train_in_parallel(config, ctx, kwargs, _jobs(config, seed))

        def trained(run_seed: int, kd: bool):  # (model, score); runs done just now in parallel are quiet
            return train_one(config, ctx, kwargs, teacher_logits if kd else None, run_seed, kd,
                              announce_reuse=(run_seed, kd) not in fresh)

        model, kd_accuracy = trained(seed, True)
        metrics = {**save_model(model, config.spec(), kwargs, out, student_input), "accuracy": kd_accuracy,
                   "seed": seed, "threads": threads}
        if config.objective == "embedding":
            return {**metrics, **_embedding_runs(config, ctx, trained, seed, model)}
        if config.baseline_seeds:
            runs = {"kd": {seed: kd_accuracy}, "ce": {}}
            for other in config.baseline_seeds:
                if other not in runs["kd"]:
                    runs["kd"][other] = trained(other, True)[1]
                if config.ce_baseline:
                    runs["ce"][other] = trained(other, False)[1]
            metrics["kd_vs_ce"] = {
                method: seed_summary([by_seed[s] for s in config.baseline_seeds], config.baseline_seeds)
                for method, by_seed in runs.items() if by_seed
            }
            metrics["kd_vs_ce"]["epochs"] = config.train.epochs
        return metrics


def _embedding_runs(config: DistillConfig, ctx, trained, seed: int, model) -> dict[str, Any]:
    """Retrieval fidelity of the student (and of one per baseline seed) to the teacher's test vectors.
    There is no CE baseline: without labels the teacher's vectors are the only training signal."""
    fidelity = {seed: embedding_fidelity(ctx, model)}
    for other in config.baseline_seeds:
        if other not in fidelity:
            fidelity[other] = embedding_fidelity(ctx, trained(other, True)[0])
    seeds = config.baseline_seeds or [seed]
    return {"objective": "embedding", "retrieval": fidelity[seed], "accuracy": None,
            "embedding_seeds": {metric: seed_summary([fidelity[s][metric] for s in seeds], seeds)
                                for metric in fidelity[seed]}}


def embedding_fidelity(ctx, model) -> dict[str, float]:
    """recall@10 and Spearman of `model`'s test vectors against the teacher stage's."""
    import numpy as np

    from edgekd.model_artifacts import torch_logits
    from edgekd.stages.teacher import TEST_OUTPUTS_FILE
    from edgekd.text.retrieval import retrieval_fidelity

    teacher = ctx.latest("teacher")
    if teacher.metrics.get("test_outputs") != TEST_OUTPUTS_FILE:
        from edgekd.errors import ConfigError

        raise ConfigError("objective: embedding needs a teacher stage on unlabeled data (`label: null`), "
                          "which saves the teacher's test vectors")
    vectors = np.load(teacher.file(TEST_OUTPUTS_FILE))
    return retrieval_fidelity(torch_logits(model, ctx.data.split("test").inputs), vectors)


def _jobs(config: DistillConfig, seed: int) -> list[tuple[int, bool]]:
    """Every (seed, uses KD) training run the stage makes: the student first, then the baselines."""
    jobs = [(seed, True)]
    for other in config.baseline_seeds:
        if (other, True) not in jobs:
            jobs.append((other, True))
        if config.ce_baseline and config.objective == "logits":
            jobs.append((other, False))
    return jobs


def run_tag(seed: int, kd: bool) -> str:
    return f"{'kd' if kd else 'ce'}-seed{seed}"


def run_label(seed: int, kd: bool) -> str:
    return f"{'KD' if kd else 'CE'} student seed {seed}"


def train_one(config: DistillConfig, ctx, kwargs, teacher_logits, seed: int, kd: bool,
               announce_reuse: bool = True):
    """Train one student (or reuse the one a killed run, or a parallel run, already finished) and
    score it (test accuracy; recall@10 against the teacher for an embedder)."""
    import json

    from edgekd.data.input_transform import reading_transformed
    from edgekd.model_artifacts import load_weights_into_spec
    from edgekd.models.build import build_model
    from edgekd.models.checkpoints import save_weights

    tag, label = run_tag(seed, kd), run_label(seed, kd)
    result, weights = ctx.resume_path(f"{tag}.json"), ctx.resume_path(f"{tag}.safetensors")
    if result is not None and result.is_file() and weights.is_file():
        finished = json.loads(result.read_text())
        if announce_reuse:
            ctx.console.print(f"{label}: finished in an earlier run, test accuracy {finished['accuracy']:.4f}")
        return load_weights_into_spec({"spec": config.spec(), "kwargs": kwargs}, weights), finished["accuracy"]
    import torch

    train_set, test = training_split(ctx), ctx.data.split("test")
    torch.manual_seed(seed)  # the initial weights depend on the seed alone
    model, _ = build_model(config.spec().model_copy(update={"kwargs": kwargs}))
    if kwargs.get("vocabulary") is not None and hasattr(model, "use_vocabulary"):
        model.use_vocabulary(training_vocabulary_of(ctx))
    with reading_transformed(model, student_input_spec(config, ctx)):  # cross-input KD: the student's view
        test_accuracy = _train_and_score(config, ctx, model, kwargs, teacher_logits, seed, kd, train_set, test)
    if result is not None and ctx.world.is_main:
        save_weights(model, weights)
        result.write_text(json.dumps({"accuracy": test_accuracy}))
    return model, test_accuracy


def _train_and_score(config: DistillConfig, ctx, model, kwargs, teacher_logits, seed: int, kd: bool,
                     train_set, test) -> float:
    from edgekd.kd.trainer import train
    from edgekd.model_artifacts import accuracy, torch_logits
    from edgekd.stages.teacher import check_output_width

    label = run_label(seed, kd)
    check_output_width(model, ctx, f"student {config.spec().label}")
    if config.objective == "embedding":
        check_embedding_width(model, ctx, kwargs["num_classes"], f"student {config.spec().label}")
    terms = feature_terms(config, model, teacher_logits, train_set.inputs) if kd else None
    recipe = dataclasses.replace(config.train.recipe(), objective=config.objective)
    train(model, train_set.inputs, train_set.labels, teacher_logits if kd else None,
          recipe, seed, ctx.console, label=label, checkpoint=ctx.resume_path(f"{run_tag(seed, kd)}.ckpt"),
          feature_terms=terms)
    if config.objective == "embedding":
        test_accuracy = embedding_fidelity(ctx, model)["recall_at_10"]
        ctx.console.print(f"{label}: recall@10 against the teacher {test_accuracy:.4f}")
    else:
        test_accuracy = accuracy(torch_logits(model, test.inputs), test.labels)
        ctx.console.print(f"{label}: test accuracy {test_accuracy:.4f}")
    return test_accuracy


def with_training_vocabulary(kwargs: dict, ctx) -> dict:
    """`vocabulary: training` -> the number of distinct ids the training texts use: the student's
    rows (edgekd.text.vocabulary). The ids themselves are filled in after each build."""
    from edgekd.text.vocabulary import REQUEST

    if kwargs.get("vocabulary") != REQUEST:
        return kwargs
    if "pad_id" not in ctx.data.input_spec.extra:
        from edgekd.errors import ConfigError

        raise ConfigError(f"student kwargs: vocabulary: {REQUEST} needs token-id data (text_csv, jsonl), "
                          "whose tokenizer gives the ids")
    return {**kwargs, "vocabulary": len(training_vocabulary_of(ctx))}


def training_vocabulary_of(ctx):
    from edgekd.text.vocabulary import training_vocabulary

    return training_vocabulary(training_split(ctx).inputs, int(ctx.data.input_spec.extra["pad_id"]))


def student_input_spec(config: DistillConfig, ctx):
    """What the student reads: the data's input, or the view its `input_transform` takes of it."""
    from edgekd.data.input_transform import transformed_spec

    return transformed_spec(ctx.data.input_spec, config.spec().input_transform, "student")


def check_embedding_width(model, ctx, width: int, what: str) -> None:
    import torch

    from edgekd.errors import ConfigError

    with torch.no_grad():
        got = model.eval()(torch.from_numpy(ctx.data.split("train").inputs[:2])).shape[-1]
    model.train()
    if got != width:
        raise ConfigError(f"{what} outputs {got} values per sample but the teacher's vectors have {width}; "
                          "leave num_classes unset (it defaults to the teacher's width)")


def feature_terms(config: DistillConfig, student, targets, inputs):
    """The hint and relation terms the config asks for (None when it asks for neither)."""
    if not config.hints and not config.relations:
        return None
    import torch

    from edgekd.kd.feature_kd import FeatureTerms, HintTerm, RelationTerm

    return FeatureTerms(student, [HintTerm(**h.model_dump()) for h in config.hints],
                        [RelationTerm(**r.model_dump()) for r in config.relations],
                        targets.feature_layers, torch.from_numpy(inputs[:1]))


def seed_summary(values: list[float], seeds: list[int]) -> dict[str, Any]:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": spread, "seeds": seeds, "accuracies": values}
