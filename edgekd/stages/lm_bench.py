"""`lm_bench`: decode speed of the teacher and the distilled student, in PyTorch and in every exported file.

Batch 1 at each thread count in `threads`, on the fixed held-out prompt of `lm_export`
(`prompt_tokens`, 64 by default): time to first token (the prefill) and decode tokens/s over
`new_tokens` greedy steps, the median of `repeats` runs taken in turns across the models, so a
noisy neighbour slows them all alike. Every runtime decodes with its KV cache: PyTorch with the
model's own, ONNX Runtime and LiteRT with the files' `past`/`kv_cache` tensors. The teacher and the
student also write `sample_tokens` greedy tokens from the prompt, kept as text for the report. With
`memory`, each model is also loaded and decoded once more in a process of its own, whose peak
resident memory is the row's `peak_rss_bytes` (`edgekd.bench.decode_memory`). With `emulated_cpus`,
every exported file also decodes `emulated_tokens` tokens under QEMU on those Arm cores, and the
`emulated` rows give instructions per generated token (`edgekd.bench.emulated_decode`).
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveInt

from edgekd.config import StageConfig
from edgekd.stages.base import Stage


class LmBenchConfig(StageConfig):
    type: Literal["lm_bench"] = "lm_bench"
    threads: list[PositiveInt] = Field(default_factory=lambda: [1, 2], min_length=1)
    new_tokens: PositiveInt = 64
    repeats: PositiveInt = 3
    sample_tokens: PositiveInt = 32
    memory: bool = Field(True, description="peak RSS of a fresh process decoding with each model")
    emulated_cpus: list[Literal["cortex-a53", "cortex-a76"]] = Field(
        default_factory=list, description="Arm cores to emulate (QEMU, `make arm-setup`): instructions per token")
    emulated_tokens: int = Field(16, ge=2, description="greedy tokens per emulated run; the first is the prefill")


def _decoder(kind: str, target):
    """A function (prompt, new_tokens, threads) -> (tokens, logits, timings) for one model."""
    if kind == "pytorch":
        from edgekd.export.causal_lm_onnx import greedy_decode_torch

        def run(prompt, new_tokens, threads):
            import torch

            previous = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                return greedy_decode_torch(target, prompt, new_tokens)
            finally:
                torch.set_num_threads(previous)
        return run
    from edgekd.export.causal_lm_decode import greedy_decoder

    greedy = greedy_decoder(target)
    return lambda prompt, new_tokens, threads: greedy(target, prompt, new_tokens, threads)


def _models(ctx) -> list[dict]:
    from edgekd.models.causal_lm import load_student, teacher_file, teacher_model
    from edgekd.stages.lm_distill import STUDENT_FOLDER

    teacher_ref = ctx.latest("lm_teacher").metrics["model"]
    distilled = ctx.latest("lm_distill")
    folder = distilled.path / STUDENT_FOLDER
    models = [{"model": "teacher", "format": "pytorch", "runtime": "pytorch", "target": teacher_model(teacher_ref),
               "ref": teacher_ref, "size_bytes": teacher_file(teacher_ref).stat().st_size,
               "size_of": "GGUF file (Q4_1), run as fp32"},
              {"model": "student", "format": "pytorch", "runtime": "pytorch", "target": load_student(folder),
               "ref": str(folder), "size_bytes": sum(p.stat().st_size for p in folder.glob("*.safetensors")),
               "size_of": "safetensors"}]
    exported = ctx.latest("lm_export")
    for row in exported.metrics["exports"]:
        if row["status"] == "ok":
            models.append({"model": row["model"], "format": row["format"], "runtime": row["runtime"],
                           "target": exported.path / row["file"], "ref": str(exported.path / row["file"]),
                           "size_bytes": row["size_bytes"], "size_of": "file"})
    return models


class LmBenchStage(Stage):
    type = "lm_bench"
    Config = LmBenchConfig

    def run(self, config: LmBenchConfig, ctx, out: Path) -> dict[str, Any]:
        import numpy as np

        from edgekd.stages.lm_export import PROMPT_FILE
        from edgekd.text.tokenizer import load_tokenizer

        prompt_file = ctx.latest("lm_export").file(PROMPT_FILE)
        prompt = np.load(prompt_file)
        models = _models(ctx)
        decoders = [_decoder(m["runtime"], m["target"]) for m in models]
        timings: dict[tuple[int, int], list[dict]] = {}
        for threads in config.threads:
            for decode in decoders:
                decode(prompt, 2, threads)  # warm-up: session creation, first-call allocations
            for _ in range(config.repeats):
                for index, decode in enumerate(decoders):
                    timings.setdefault((index, threads), []).append(decode(prompt, config.new_tokens, threads)[2])
        peaks = [_peak_rss(model, prompt_file, config.new_tokens) if config.memory else None for model in models]
        rows = []
        for (index, threads), runs in timings.items():
            model = models[index]
            rows.append({key: model[key] for key in ("model", "format", "runtime", "size_bytes", "size_of")}
                        | {"threads": threads, "batch": 1, "prompt_tokens": len(prompt), "new_tokens": config.new_tokens,
                           "ttft_ms": statistics.median(r["ttft_ms"] for r in runs),
                           "decode_tokens_per_s": statistics.median(r["decode_tokens_per_s"] for r in runs),
                           "repeats": len(runs)}
                        | ({"peak_rss_bytes": peaks[index]} if config.memory else {}))
        _add_speedups(rows)
        tokenizer = load_tokenizer(ctx.data.config.tokenizer)
        samples = {"prompt": tokenizer.decode(prompt.tolist())}
        for model, decode in zip(models[:2], decoders[:2]):
            samples[model["model"]] = tokenizer.decode(decode(prompt, config.sample_tokens, 1)[0])
        for row in rows:
            ctx.console.print(f"{row['model']} {row['format']:11s} {row['threads']} thread(s): "
                              f"{row['decode_tokens_per_s']:.0f} tokens/s, first token {row['ttft_ms']:.1f} ms")
        emulated = []
        if config.emulated_cpus:  # after every timing: the emulator keeps both cores busy
            from edgekd.bench.emulated_decode import emulated_decode_rows

            emulated = emulated_decode_rows(models, prompt, config.emulated_tokens, config.emulated_cpus)
            for row in emulated:
                if row["status"] != "skipped":
                    ctx.console.print(f"{row['model']} {row['format']:11s} {row['target']}: " + (
                        f"{row['instructions_per_token'] / 1e6:.2f}M instructions per token"
                        if row["status"] == "ok" else f"failed ({row['reason']})"))
            for reason in dict.fromkeys(row["reason"] for row in emulated if row["status"] == "skipped"):
                skipped = sorted({f"{r['model']} {r['format']}" for r in emulated if r["reason"] == reason})
                ctx.console.print(f"not emulated: {', '.join(skipped)}: {reason}")
        return {"rows": rows, "samples": samples, "prompt_tokens": len(prompt), "emulated": emulated}


def _peak_rss(model: dict, prompt_file: Path, new_tokens: int) -> int:
    from edgekd.bench.decode_memory import peak_rss_bytes

    return peak_rss_bytes(model["runtime"], model["ref"], prompt_file, new_tokens)


def _add_speedups(rows: list[dict]) -> None:
    """Decode speed over the teacher in PyTorch, and over the same model's fp32 file of the same
    runtime, at the same thread count."""
    by_key = {(r["model"], r["format"], r["threads"]): r for r in rows}
    for row in rows:
        teacher = by_key.get(("teacher", "pytorch", row["threads"]))
        if teacher and teacher["decode_tokens_per_s"]:
            row["decode_speedup_vs_teacher"] = row["decode_tokens_per_s"] / teacher["decode_tokens_per_s"]
        if row["format"] != fp32_format(row["format"]):  # an int8 / int4 file: over its own route's fp32
            fp32 = by_key.get((row["model"], fp32_format(row["format"]), row["threads"]))
            if fp32 and fp32["decode_tokens_per_s"]:
                row["decode_speedup_vs_fp32"] = row["decode_tokens_per_s"] / fp32["decode_tokens_per_s"]


def fp32_format(fmt: str) -> str:
    """The fp32 file an integer format is compared with: the same route's (`onnx_gqa_int8_block` ->
    `onnx_gqa_fp32`, `onnx_int8_block` -> `onnx_fp32`); a float format is its own."""
    return fmt.replace("_int8_block", "_fp32").replace("_int8", "_fp32").replace("_int4", "_fp32")
