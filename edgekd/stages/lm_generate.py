"""`lm_generate`: the teacher writes a transfer set, for sequence-level KD (Kim & Rush, EMNLP 2016).

Prompts are the first `prompt_tokens` of training chunks (seeded draw); the teacher continues each
to the chunk length by sampling (`temperature`, `top_p`; `greedy: true` for argmax). The student of
`lm_distill`'s `seq_kd` method then trains with plain next-token CE on these sequences instead of the
corpus: it imitates what the teacher says, not its per-token distribution. With no corpus to ship,
this is the data-free route for text. The set is an artifact keyed by the teacher's weights (through
`lm_teacher`), the data, the prompts and the sampling settings and seed. It is written batch by
batch into the resume folder, so a killed run continues from its last finished batch.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import Field, PositiveFloat, PositiveInt

from edgekd.config import StageConfig
from edgekd.stages.base import Stage

GENERATED_FILE = "generated.npy"


class LmGenerateConfig(StageConfig):
    type: Literal["lm_generate"] = "lm_generate"
    sequences: Optional[PositiveInt] = Field(None, description="sequences to write; default: one per training chunk")
    prompt_tokens: PositiveInt = Field(16, description="real tokens each sequence starts from")
    greedy: bool = False
    temperature: PositiveFloat = 1.0
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    batch_size: PositiveInt = 16
    seed: int = 0
    precision: Literal["auto", "float32", "bfloat16"] = "auto"


def generate_batch(teacher, prompts, new_tokens: int, config: LmGenerateConfig, seed: int, precision: str):
    """Continuations of `prompts` [n, p] to p + new_tokens tokens. The end-of-text token is held back
    until then (`min_new_tokens`), so every sequence fills a whole chunk."""
    import numpy as np
    import torch

    from edgekd.text.lm_scoring import autocast

    torch.manual_seed(seed)
    ids = torch.from_numpy(np.ascontiguousarray(prompts, dtype=np.int64))
    # top_k 0: nucleus sampling alone (transformers would otherwise also cut at its default top-50).
    sampling = ({"do_sample": False} if config.greedy else
                {"do_sample": True, "temperature": config.temperature, "top_p": config.top_p, "top_k": 0})
    with torch.no_grad(), autocast(precision):
        out = teacher.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                               min_new_tokens=new_tokens, pad_token_id=teacher.config.eos_token_id, **sampling)
    return out[:, :prompts.shape[1] + new_tokens].numpy().astype(np.int64)


class LmGenerateStage(Stage):
    type = "lm_generate"
    Config = LmGenerateConfig

    def run(self, config: LmGenerateConfig, ctx, out: Path) -> dict[str, Any]:
        import numpy as np

        from edgekd.errors import ConfigError
        from edgekd.models.causal_lm import teacher_model
        from edgekd.progress import progress_bar
        from edgekd.text.lm_scoring import resolve_precision, token_chunks

        where = f"stages.{config.stage_name}"
        train, _ = token_chunks(ctx, where)
        width = train.shape[1]
        if config.prompt_tokens >= width:
            raise ConfigError(f"{where}.prompt_tokens: {config.prompt_tokens} leaves nothing to generate in "
                              f"chunks of {width} tokens")
        count = config.sequences or len(train)
        picked = np.random.default_rng(config.seed).choice(len(train), size=count, replace=count > len(train))
        prompts = train[picked, :config.prompt_tokens]
        teacher = teacher_model(ctx.latest("lm_teacher").metrics["model"])
        precision = resolve_precision(config.precision)
        started, batches = time.perf_counter(), []
        with progress_bar(ctx.console) as progress:
            task = progress.add_task("teacher writes", total=count, status="")
            for number, start in enumerate(range(0, count, config.batch_size)):
                done = ctx.resume_path(f"batch-{number:05d}.npy")
                if done is not None and done.is_file():
                    batch = np.load(done)
                else:
                    batch = generate_batch(teacher, prompts[start:start + config.batch_size], width - config.prompt_tokens,
                                           config, config.seed * 100_003 + number, precision)
                    if done is not None:
                        partial = done.with_suffix(".partial.npy")
                        np.save(partial, batch)
                        partial.replace(done)
                batches.append(batch)
                progress.advance(task, len(batch))
        generated = np.concatenate(batches)
        np.save(out / GENERATED_FILE, generated)
        seconds = time.perf_counter() - started
        new = count * (width - config.prompt_tokens)
        ctx.console.print(f"the teacher wrote {new:,} tokens in {seconds:.0f} s ({precision})")
        return {"sequences": count, "tokens_per_sequence": width, "generated_tokens": new, "seconds": seconds,
                "generated_tokens_per_second": new / seconds if seconds else None, "precision": precision}
