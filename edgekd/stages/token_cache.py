"""`token_cache`: run the language-model teacher once over the training chunks and keep, per token, its
top-k next tokens.

Per token: the k largest log-probabilities at T = 1 (fp16), their ids (uint16: SmolLM2's 49,152-token
vocabulary fits below 65,536) and the probability mass left over (fp16). That is 4k + 2 bytes per
token, 66 at the default k = 16, against 98,304 for full fp16 logits. The store is the image cache's
sharded format: each shard written atomically with its digests, a killed build resumes from its last
complete shard, and the content key (teacher weights, data, k, precision, this code's version) is
checked on every open, so a stale or damaged cache is refused, never read.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveInt

from edgekd.config import StageConfig
from edgekd.stages.base import Stage

ALGORITHM = "token-cache-v1: log_softmax fp32 at T=1, topk, fp16 values, uint16 ids, fp16 rest = 1 - sum"


class TokenCacheConfig(StageConfig):
    type: Literal["token_cache"] = "token_cache"
    k: PositiveInt = Field(16, description="next tokens kept per position")
    batch_size: PositiveInt = 8
    shard_rows: PositiveInt = Field(256, description="chunks per shard")
    precision: Literal["auto", "float32", "bfloat16"] = "auto"


def token_cache_key(config: TokenCacheConfig, ctx) -> str:
    from edgekd.models.causal_lm import teacher_digest
    from edgekd.text.lm_scoring import resolve_precision

    teacher = ctx.latest("lm_teacher").metrics["model"]
    payload = {"teacher": teacher_digest(teacher), "data": ctx.data.fingerprint, "k": config.k,
               "precision": resolve_precision(config.precision), "train_subset": ctx.data.config.train_subset,
               "algorithm": ALGORITHM}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:32]


def columns(length: int, k: int):
    from edgekd.kd.shard_store import Column

    return [Column("topk_log_probs", "float16", (length, k)), Column("topk_ids", "uint16", (length, k)),
            Column("rest_mass", "float16", (length,))]


def teacher_rows(teacher, chunks, k: int, batch_size: int, precision: str) -> dict:
    """The cache columns for `chunks` [n, length + 1]."""
    import numpy as np
    import torch

    from edgekd.text.lm_scoring import log_probs

    values, ids, rest = [], [], []
    for start in range(0, len(chunks), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(chunks[start:start + batch_size, :-1], dtype=np.int64))
        top = log_probs(teacher, batch, precision).topk(k, dim=-1)
        values.append(top.values.half().numpy())
        ids.append(top.indices.numpy().astype(np.uint16))
        rest.append((1.0 - top.values.exp().sum(dim=-1)).clamp_min(0.0).half().numpy())
    return {"topk_log_probs": np.concatenate(values), "topk_ids": np.concatenate(ids),
            "rest_mass": np.concatenate(rest)}


class TokenCacheStage(Stage):
    type = "token_cache"
    Config = TokenCacheConfig

    def inputs(self, config: TokenCacheConfig, ctx) -> dict[str, Any]:
        return {"cache_key": token_cache_key(config, ctx)}

    def run(self, config: TokenCacheConfig, ctx, out: Path) -> dict[str, Any]:
        from edgekd.errors import ConfigError
        import numpy as np

        from edgekd.kd.shard_store import build_store, seal_store, shard_file
        from edgekd.models.causal_lm import teacher_model
        from edgekd.progress import progress_bar
        from edgekd.text.lm_scoring import resolve_precision, token_chunks

        train, _ = token_chunks(ctx, f"stages.{config.stage_name}")
        teacher = teacher_model(ctx.latest("lm_teacher").metrics["model"])
        if teacher.config.vocab_size > 65536:
            raise ConfigError(f"stages.{config.stage_name}: a vocabulary of {teacher.config.vocab_size} does not "
                              "fit the cache's uint16 token ids")
        length, precision = train.shape[1] - 1, resolve_precision(config.precision)
        key, layout = token_cache_key(config, ctx), columns(length, config.k)
        started = time.perf_counter()
        with progress_bar(ctx.console) as progress:
            task = progress.add_task("teacher top-k", total=len(train), status="")
            build_store(ctx.resume_path("shards"), layout, len(train), config.shard_rows, key,
                        lambda a, b: teacher_rows(teacher, train[a:b], config.k, config.batch_size, precision),
                        on_rows=lambda rows: progress.advance(task, rows))
        index = seal_store(out, layout, len(train), config.shard_rows, key, scratch=ctx.resume_path("shards"),
                           extra={"layout": "tokens", "views": None, "features": {}, "k": config.k,
                                  "length": length})
        seconds = time.perf_counter() - started
        tokens = len(train) * length
        rest = np.concatenate([np.load(out / shard_file(number, "rest_mass"))
                               for number in range(len(index["shards"]))]).astype(np.float64)
        bytes_per_token = index["bytes_per_sample"] / length
        ctx.console.print(f"cached top-{config.k} of {tokens:,} tokens in {seconds:.0f} s "
                          f"({bytes_per_token:.0f} bytes per token, {precision}); the top {config.k} hold "
                          f"{1 - rest.mean():.1%} of the teacher's probability on average")
        return {"key": key, "k": config.k, "tokens": tokens, "chunks": len(train), "seconds": seconds,
                "tokens_per_second": tokens / seconds if seconds else None, "precision": precision,
                "bytes_per_token": bytes_per_token, "total_bytes": index["total_bytes"],
                "shards": len(index["shards"]), "topk_mass_mean": float(1 - rest.mean()),
                "topk_mass_p05": float(1 - np.percentile(rest, 95))}
