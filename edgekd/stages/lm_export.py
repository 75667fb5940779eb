"""`lm_export`: the distilled language model as files an app ships, each with a KV cache, each checked.

- `onnx_fp32` / `onnx_int8`: one graph for prefill and decode (`past.*` in, `present.*` out;
  `edgekd.export.causal_lm_onnx`), int8 by ONNX Runtime's dynamic quantisation after
  `quant_pre_process` (MatMul and the embedding's Gather in int8).
- `onnx_int8_block`: int8 for models whose activation outliers break `onnx_int8` (SmolLM2-135M
  itself): `MatMulNBits` with 8-bit weights and activations quantised per block of 32. It cuts
  SmolLM2's int8 logit error tenfold; its int8 embedding still parts the tokens at step 2.
- `onnx_gqa_fp32` / `onnx_gqa_int8` / `onnx_gqa_int8_block` / `onnx_gqa_int4`: ONNX Runtime GenAI's
  model builder (`edgekd.export.causal_lm_genai`): fused `GroupQueryAttention` and norms. `int8` is
  that fp32 graph through the same dynamic int8 as `onnx_int8` (the fastest int8 file on the
  student); `int8_block` is the builder's own `MatMulNBits` int8 (8-bit weight blocks of 32, which
  holds SmolLM2-135M's outliers; its embedding stays float); `int4` shares one 4-bit table between
  the embedding and the lm_head. Needs `onnxruntime-genai` (the `llm` extra).
- `tflite_fp32` / `tflite_int8`: litert-torch's generative export (`prefill_<n>` and `decode`
  signatures, a fixed-size KV cache; `edgekd.export.causal_lm_tflite`), int8 by its dynamic-int8
  recipe.
Each file is decoded greedily on a fixed held-out prompt for `parity_steps` tokens beside the PyTorch
student: the largest logit difference relative to the largest logit, and the first step where the
greedy tokens part (with the int8 logit error beside it, which explains it). A format that fails to
export or load leaves a row with the reason, and the others still run.
With `teacher_formats`, the teacher goes to ONNX the same way (checked against itself in PyTorch), so
the bench sets teacher and student side by side in one runtime, on the emulated Arm cores too, and
shows what int8 alone does to the teacher. A GGUF teacher has no safetensors folder for litert-torch's
generative export, so there is no teacher TFLite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveInt

from edgekd.config import StageConfig
from edgekd.stages.base import Stage

FORMATS = ("onnx_fp32", "onnx_int8", "tflite_fp32", "tflite_int8")  # the default; onnx_int8_block on request
TeacherFormat = Literal["onnx_fp32", "onnx_int8", "onnx_int8_block", "onnx_gqa_fp32", "onnx_gqa_int8",
                        "onnx_gqa_int8_block", "onnx_gqa_int4"]
Format = Literal[TeacherFormat, "tflite_fp32", "tflite_int8"]
# student.int8-block.onnx, student.gqa-int8-block.onnx
SUFFIXES = {"fp32": "", "int8": ".int8", "int8_block": ".int8-block", "gqa_fp32": ".gqa", "gqa_int8": ".gqa-int8",
            "gqa_int8_block": ".gqa-int8-block", "gqa_int4": ".gqa-int4"}
PROMPT_FILE = "prompt.npy"


class LmExportConfig(StageConfig):
    type: Literal["lm_export"] = "lm_export"
    formats: list[Format] = list(FORMATS)
    prompt_tokens: PositiveInt = Field(64, description="the fixed prompt: the first tokens of held-out chunk 0")
    parity_steps: PositiveInt = 32
    kv_cache_max_len: PositiveInt = Field(256, description="TFLite's fixed cache length (prompt + new tokens)")
    teacher_formats: list[TeacherFormat] = Field(
        default_factory=list, description="the teacher as ONNX files too (about 8x the student's bytes)")


def fixed_prompt(ctx, tokens: int):
    """The first `tokens` ids of the held-out text: the prompt every format is checked and timed on."""
    from edgekd.errors import ConfigError
    from edgekd.text.lm_scoring import token_chunks

    _, heldout = token_chunks(ctx, "lm_export")
    stream = heldout[:, :-1].reshape(-1)
    if len(stream) < tokens:
        raise ConfigError(f"prompt_tokens {tokens}: the held-out text has only {len(stream)} tokens")
    return stream[:tokens].copy()


def _export(fmt: str, folder: Path, model, path: Path, config: LmExportConfig, prompt_len: int, tokenizer) -> dict:
    """Write `path`; `folder` is the student's safetensors folder (the TFLite route reads it); the
    builder route saves `model` and `tokenizer` as a folder of its own."""
    if fmt.startswith("onnx_gqa"):
        from edgekd.export.causal_lm_genai import export_causal_lm_genai

        fp32 = path.with_name(file_name("onnx_gqa_fp32", path.name.split(".")[0]))  # reused by `int8`
        return export_causal_lm_genai(model, tokenizer(), path, fmt.removeprefix("onnx_gqa_"), fp32_file=fp32)
    if fmt.startswith("onnx"):
        from edgekd.export.causal_lm_onnx import export_causal_lm, quantize_causal_lm, quantize_causal_lm_blockwise

        if fmt == "onnx_fp32":
            export_causal_lm(model, path)
            return {}
        fp32 = path.with_name(path.name.split(".")[0] + ".onnx")  # the same model's fp32 file
        if not fp32.is_file():
            export_causal_lm(model, fp32)
        quantize = quantize_causal_lm if fmt == "onnx_int8" else quantize_causal_lm_blockwise
        return {"float_weight_ops": quantize(fp32, path)}
    from edgekd.export.causal_lm_tflite import export_causal_lm_tflite

    written = export_causal_lm_tflite(folder, path, prefill_len=prompt_len, kv_cache_max_len=config.kv_cache_max_len,
                                      quantize="dynamic_int8" if fmt.endswith("int8") else "none")
    return {"signatures": written["signatures"], "convert_s": written["convert_s"]}


def _parity(fmt: str, student, path: Path, prompt, steps: int) -> dict:
    if fmt.startswith("onnx"):
        from edgekd.export.causal_lm_onnx import check_parity

        return check_parity(student, path, prompt, steps)
    from edgekd.export.causal_lm_tflite import check_parity_tflite

    return check_parity_tflite(student, path, prompt, steps)


def file_name(fmt: str, model: str = "student") -> str:
    family, precision = fmt.split("_", 1)
    return model + SUFFIXES[precision] + (".onnx" if family == "onnx" else ".tflite")


class LmExportStage(Stage):
    type = "lm_export"
    Config = LmExportConfig

    def run(self, config: LmExportConfig, ctx, out: Path) -> dict[str, Any]:
        import functools

        import numpy as np

        from edgekd.models.causal_lm import load_student, teacher_model
        from edgekd.text.tokenizer import load_tokenizer
        from edgekd.stages.lm_distill import STUDENT_FOLDER

        distilled = ctx.latest("lm_distill")
        folder = distilled.path / STUDENT_FOLDER
        models = {"student": load_student(folder)}
        if config.teacher_formats:
            models["teacher"] = teacher_model(ctx.latest("lm_teacher").metrics["model"])
        prompt = fixed_prompt(ctx, config.prompt_tokens)
        tokenizer = functools.lru_cache(maxsize=1)(lambda: load_tokenizer(ctx.data.config.tokenizer))
        np.save(out / PROMPT_FILE, prompt)
        rows = []
        jobs = [("student", fmt) for fmt in config.formats] + [("teacher", fmt) for fmt in config.teacher_formats]
        for name, fmt in jobs:
            path, model = out / file_name(fmt, name), models[name]
            row = {"model": name, "format": fmt, "file": path.name,
                   "runtime": "onnxruntime" if fmt.startswith("onnx") else "litert"}
            try:
                row.update(_export(fmt, folder, model, path, config, len(prompt), tokenizer))
                row.update(size_bytes=path.stat().st_size, parity=_parity(fmt, model, path, prompt, config.parity_steps),
                           status="ok")
            except Exception as exc:  # noqa: BLE001 - any converter failure becomes the row's reason
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                row.update(status="failed", reason=f"{type(exc).__name__}: {reason}"[:300])
                path.unlink(missing_ok=True)
            rows.append(row)
            ctx.console.print(_line(row))
        failures = [f"{row['model']}/{row['format']}" for row in rows if row["status"] != "ok"]
        return {"exports": rows, "failures": failures, "prompt_tokens": len(prompt),
                "parity_steps": config.parity_steps, "student_params": distilled.metrics["params"],
                "method": distilled.metrics["export_method"]}


def _line(row: dict) -> str:
    if row["status"] != "ok":
        return f"{row['model']} {row['format']}: failed ({row['reason']})"
    parity = row["parity"]
    mismatch = parity["first_token_mismatch"]
    return (f"{row['model']} {row['format']}: {row['size_bytes'] / 1e6:.1f} MB, max|Δlogit| / max|logit| "
            f"{parity['rel_logit_error']:.1e}, greedy tokens "
            + ("equal for every step" if mismatch is None else f"part at step {mismatch}"))
