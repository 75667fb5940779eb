"""`cache`: run the teacher(s) once over the training set and store what distillation needs.

Shards are built in the stage's resume folder, so a killed build continues from its last complete
shard; the finished shards move into the artifact with an index holding the content key.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import Discriminator, Field, NonNegativeInt, PositiveFloat, PositiveInt, Tag, model_validator

from edgekd.config import StageConfig, StrictModel
from edgekd.errors import ConfigError
from edgekd.stages.base import Stage
from edgekd.stages.transfer_set import training_split, transfer_set_id

# What the cached outputs depend on besides the teachers, the data, its input spec (layout, mean/std)
# and this config: change the preprocessing code and this string must change, which changes the key.
PREPROCESSING = "prepare-v1: x/divisor, (x-mean)/std per channel, float32"
VIEWS_ALGORITHM = "views-v1: splitmix64(seed, sample, view) crop+flip, fill=normalised black"
TEXT_VIEWS_ALGORITHM = ("text-views-v1: rng(seed, sample, view); window 50-100 %, mask, swap for a cosine "
                        "neighbour in the first teacher's token table (same word-piece kind); specials kept")


class ViewsConfig(StrictModel):
    """K augmented views per sample, replayed exactly in training (FKD)."""

    kind: Literal["image"] = "image"
    count: PositiveInt = Field(description="views stored per sample (K)")
    pad: NonNegativeInt = Field(2, description="crops are shifts of up to `pad` pixels")
    flip: bool = True
    seed: int = 0


class TextViewsConfig(StrictModel):
    """K edited copies of every training text, each labelled by the teacher (`edgekd.kd.text_views`)."""

    kind: Literal["text"]
    count: PositiveInt = Field(description="views stored per text (K), the text itself included")
    mask: float = Field(0.1, ge=0.0, le=1.0, description="per token: becomes the mask token")
    swap: float = Field(0.1, ge=0.0, le=1.0, description="per token: becomes a nearest teacher-embedding neighbour")
    window: float = Field(0.25, ge=0.0, le=1.0, description="per view: keep a span of 50-100 % of the tokens")
    neighbours: PositiveInt = Field(8, description="swap candidates per token")
    keep_original: bool = Field(True, description="view 0 is the unedited text")
    seed: int = 0


def _views_kind(value) -> str:
    return value.get("kind", "image") if isinstance(value, dict) else getattr(value, "kind", "image")


AnyViews = Annotated[Union[Annotated[ViewsConfig, Tag("image")], Annotated[TextViewsConfig, Tag("text")]],
                     Discriminator(_views_kind)]


class CacheConfig(StageConfig):
    type: Literal["cache"] = "cache"
    dtype: Literal["float16", "float32"] = "float16"
    topk: Optional[PositiveInt] = Field(
        default=None, description="store only the k most likely classes (fp16 log-probs + int16 ids + rest mass)")
    teachers: list[str] = Field(default_factory=list, description="teacher stage names; default: the latest")
    teacher_weights: Optional[list[PositiveFloat]] = None
    features: list[str] = Field(default_factory=list, description="teacher layers whose outputs are cached")
    views: Optional[AnyViews] = None
    shard_rows: PositiveInt = 16384
    batch_size: PositiveInt = 512

    @model_validator(mode="after")
    def _weights_match_teachers(self) -> "CacheConfig":
        if self.teacher_weights is not None and len(self.teacher_weights) != max(len(self.teachers), 1):
            raise ValueError("teacher_weights needs one weight per entry of `teachers`")
        return self


class CacheStage(Stage):
    type = "cache"
    Config = CacheConfig
    distributed = True  # under torchrun each rank computes every world-size-th shard

    def inputs(self, config: CacheConfig, ctx) -> dict[str, Any]:
        return {"cache_key": cache_key(ctx, config)}

    def run(self, config: CacheConfig, ctx, out: Path) -> dict[str, Any]:
        from edgekd.distributed import barrier
        from edgekd.kd.teacher_cache import build_shards, seal_cache
        from edgekd.progress import progress_bar

        train = training_split(ctx)
        teachers = load_teachers(ctx, config)
        spec = cache_spec(config, teachers, train.inputs, ctx.data.input_spec,
                          tokenizer=getattr(ctx.data.config, "tokenizer", None))
        key, scratch, world = cache_key(ctx, config), ctx.resume_path("shards"), ctx.world
        with progress_bar(ctx.console) as progress:
            task = progress.add_task("teacher outputs", total=len(train) // world.size, status="")
            build_shards(spec, teachers, train.inputs, key, config.shard_rows, config.batch_size, scratch,
                         rank=world.rank, world_size=world.size, on_rows=lambda rows: progress.advance(task, rows))
        barrier(world)  # every rank's shards are on disk before rank 0 seals the cache
        if not world.is_main:
            return {}
        index = seal_cache(out, spec, len(train), key, config.shard_rows, scratch)
        return {"samples": len(train), "format": index["layout"], "k": index["k"], "shards": len(index["shards"]),
                "teachers": len(teachers), "views": config.views.count if config.views else 0,
                "features": index["features"], "bytes_per_sample": index["bytes_per_sample"],
                "total_bytes": index["total_bytes"], "key": index["key"]}


def teacher_artifacts(ctx, config: CacheConfig) -> list:
    if not config.teachers:
        return [ctx.latest("teacher")]
    found = []
    for name in config.teachers:
        if ctx.stage_types.get(name) != "teacher":
            raise ConfigError(f"stages.{config.stage_name}.teachers: no earlier teacher stage named {name!r}")
        found.append(ctx.artifacts[name])
    return found


def load_teachers(ctx, config: CacheConfig):
    from edgekd.kd.teacher_cache import Teacher
    from edgekd.model_artifacts import load_model

    artifacts = teacher_artifacts(ctx, config)
    weights = config.teacher_weights or [1.0] * len(artifacts)
    return [Teacher(load_model(artifact).eval(), weight) for artifact, weight in zip(artifacts, weights)]


def cache_spec(config: CacheConfig, teachers, inputs, input_spec, tokenizer: Optional[str] = None):
    """The cache's columns, from one dry forward pass of the teachers (classes, feature shapes)."""
    import torch

    from edgekd.kd.features import check_layer_names
    from edgekd.kd.teacher_cache import CacheSpec, ViewPolicy, teacher_outputs

    for teacher in teachers:
        check_layer_names(teacher.model, config.features, f"stages.{config.stage_name}.features")
    example = teacher_outputs(teachers, torch.from_numpy(inputs[:1]), config.features)
    if input_spec.num_classes and example["logits"].shape[1] != input_spec.num_classes:
        raise ConfigError(f"stages.{config.stage_name}: the teachers output {example['logits'].shape[1]} "
                          f"values per sample but the data has {input_spec.num_classes} classes")
    features = {name: example[f"features.{name}"].shape[1:] for name in config.features}
    views = None
    if isinstance(config.views, TextViewsConfig):
        from edgekd.kd.text_views import policy_for

        if input_spec.layout != "NL":
            raise ConfigError(f"stages.{config.stage_name}.views: `kind: text` edits token ids; this data's "
                              f"layout is {input_spec.layout}")
        views = policy_for(config.views, teachers[0].model, inputs, tokenizer,
                           int(input_spec.extra["vocab_size"]), f"stages.{config.stage_name}.views")
    elif config.views is not None:
        if input_spec.layout == "NL":
            raise ConfigError(f"stages.{config.stage_name}.views: crops and flips are for images; token data "
                              "takes `kind: text` views (mask, swap, window)")
        # Padding is black in raw pixels: 0 after normalisation's shift and scale (first channel's).
        mean = input_spec.mean[0] if input_spec.mean else 0.0
        std = input_spec.std[0] if input_spec.std else 1.0
        views = ViewPolicy(config.views.count, config.views.pad, config.views.flip, config.views.seed,
                           fill=(0.0 - mean) / std)
    length = int(inputs.shape[1]) if input_spec.layout == "NL" else 0
    trim = (length and all(getattr(t.model, "PADDING_INVARIANT", False) for t in teachers)
            and not any(length in shape for shape in features.values()))  # per-token features keep their length
    return CacheSpec(num_classes=example["logits"].shape[1], dtype=config.dtype, topk=config.topk,
                     features=features, views=views, length=length,
                     trim_pad_id=int(input_spec.extra["pad_id"]) if trim else None)


def cache_key(ctx, config: CacheConfig) -> str:
    """Content key: every teacher's weights digest and weight, the data (and the synthetic transfer set
    that replaces its training split, if any), the preprocessing, the layout and, for augmented
    caches, the augmentation policy and its seed."""
    teachers = [[artifact.manifest["files"]["model.safetensors"]["sha256"], artifact.metrics.get("source_fingerprint")]
                for artifact in teacher_artifacts(ctx, config)]
    layout = config.model_dump(mode="json", exclude={"name", "type", "teachers", "batch_size"})
    if layout.get("views") and layout["views"]["kind"] == "image":
        del layout["views"]["kind"]  # added with text views: image caches keep the keys they had
    material = {"teachers": teachers, "data": ctx.data.fingerprint, "transfer_set": transfer_set_id(ctx),
                "preprocessing": PREPROCESSING,
                "input_spec": ctx.data.input_spec.to_dict(),
                "views_algorithm": _views_algorithm(config), "layout": layout}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:32]


def _views_algorithm(config: CacheConfig) -> Optional[str]:
    if config.views is None:
        return None
    return TEXT_VIEWS_ALGORITHM if config.views.kind == "text" else VIEWS_ALGORITHM


def open_latest_cache(ctx, verify: bool = True):
    """The latest cache of this pipeline as training targets, checked against what it must be now."""
    from edgekd.kd.teacher_cache import open_cache

    artifact = ctx.latest("cache")
    config = CacheConfig(**artifact.manifest["config"], name=artifact.manifest["name"])
    return open_cache(artifact.path, cache_key(ctx, config), len(training_split(ctx)), verify)
