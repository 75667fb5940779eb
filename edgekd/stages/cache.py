"""`cache`: run the teacher once over the training set and store its logits on disk."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import Field, PositiveInt

from edgekd.config import StageConfig
from edgekd.stages.base import Stage

# What the cached logits depend on besides the teacher and the data files: change the preprocessing
# code and this string must change, which changes the cache key.
PREPROCESSING = "fashion_mnist: x/255, (x-0.2860)/0.3530, NCHW float32, no augmentation"


class CacheConfig(StageConfig):
    type: Literal["cache"] = "cache"
    dtype: Literal["float16", "float32"] = "float16"
    topk: Optional[PositiveInt] = Field(
        default=None, description="store only the k most likely classes (fp16 log-probs + int16 ids)")
    batch_size: PositiveInt = 512


class CacheStage(Stage):
    type = "cache"
    Config = CacheConfig

    def inputs(self, config: CacheConfig, ctx) -> dict[str, Any]:
        return {"cache_key": cache_key(ctx), "preprocessing": PREPROCESSING}

    def run(self, config: CacheConfig, ctx, out: Path) -> dict[str, Any]:
        import torch

        from edgekd.kd.teacher_cache import write_cache
        from edgekd.model_artifacts import load_model
        from edgekd.progress import progress_bar

        teacher = load_model(ctx.latest("teacher"))
        train = ctx.data.split("train")
        count, step = len(train), config.batch_size

        def batches():
            with progress_bar(ctx.console) as progress, torch.inference_mode():
                task = progress.add_task("teacher logits", total=count, status="")
                for start in range(0, count, step):
                    logits = teacher(torch.from_numpy(train.inputs[start:start + step])).numpy()
                    progress.advance(task, len(logits))
                    yield start, logits

        num_classes = teacher(torch.from_numpy(train.inputs[:1])).shape[1]
        index = write_cache(out, batches(), count, num_classes, config.dtype, cache_key(ctx), config.topk)
        return {"samples": count, "format": index["format"], "k": index["k"],
                "bytes_per_sample": index["bytes_per_sample"],
                "total_bytes": index["bytes_per_sample"] * count, "key": index["key"]}


def cache_key(ctx) -> str:
    """Content key: teacher weights digest, data fingerprint and preprocessing."""
    teacher = ctx.latest("teacher")
    weights = teacher.manifest["files"]["model.safetensors"]["sha256"]
    material = f"{weights}|{ctx.data.fingerprint}|{PREPROCESSING}"
    return hashlib.sha256(material.encode()).hexdigest()[:32]
