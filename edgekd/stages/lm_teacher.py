"""`lm_teacher`: a causal language model as the teacher, from a local GGUF file or HF folder; scored.

Nothing is trained: the stage checks that the teacher's vocabulary fits the data's tokenizer, scores
its held-out perplexity and keeps its top-1 next token at every held-out position, which the students'
top-1 agreement is measured against. The artifact id chains on the weights file's SHA-256.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveInt

from edgekd.config import StageConfig
from edgekd.stages.base import Stage

HELDOUT_TOP1_FILE = "heldout_top1.npy"
HELDOUT_NLL_FILE = "heldout_nll.npy"


class LmTeacherConfig(StageConfig):
    type: Literal["lm_teacher"] = "lm_teacher"
    model: str = Field(description="gguf:<file> or hf:<folder> (paths or pkg://...)")
    batch_size: PositiveInt = 8
    precision: Literal["auto", "float32", "bfloat16"] = "auto"


class LmTeacherStage(Stage):
    type = "lm_teacher"
    Config = LmTeacherConfig

    def inputs(self, config: LmTeacherConfig, ctx) -> dict[str, Any]:
        from edgekd.models.causal_lm import teacher_digest
        from edgekd.text.lm_scoring import resolve_precision

        return {"teacher_sha256": teacher_digest(config.model), "precision": resolve_precision(config.precision)}

    def run(self, config: LmTeacherConfig, ctx, out: Path) -> dict[str, Any]:
        import numpy as np

        from edgekd.models.causal_lm import check_vocabulary, count_params, teacher_model
        from edgekd.progress import progress_bar
        from edgekd.text.lm_scoring import perplexity, resolve_precision, score_heldout, token_chunks

        where = f"stages.{config.stage_name}"
        _, heldout = token_chunks(ctx, where)
        started = time.perf_counter()
        teacher = teacher_model(config.model)
        loaded = time.perf_counter() - started
        check_vocabulary(ctx.data.input_spec, teacher.config, where)
        precision = resolve_precision(config.precision)
        with progress_bar(ctx.console) as progress:
            task = progress.add_task("teacher held-out", total=len(heldout), status="")
            scored = score_heldout(teacher, heldout, config.batch_size, precision,
                                   on_batch=lambda n: progress.advance(task, n))
        np.save(out / HELDOUT_TOP1_FILE, scored["top1"])
        np.save(out / HELDOUT_NLL_FILE, scored["nll"])
        ppl = perplexity(scored["nll"])
        ctx.console.print(f"teacher {config.model}: held-out perplexity {ppl:.2f} ({precision})")
        return {"model": config.model, "params": count_params(teacher), "vocab_size": teacher.config.vocab_size,
                "architecture": type(teacher).__name__, "heldout_ppl": ppl, "precision": precision,
                "heldout_tokens": int(scored["top1"].size), "load_seconds": loaded,
                "score_seconds": time.perf_counter() - started - loaded}
