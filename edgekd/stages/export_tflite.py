"""`export_tflite`: fp32, fp16 and full-integer int8 TFLite for each model, each checked for parity."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveInt

from edgekd.config import StageConfig
from edgekd.stages.base import Stage
from edgekd.stages.export_common import export_all
from edgekd.stages.model_refs import ModelRole


class ExportTfliteConfig(StageConfig):
    type: Literal["export_tflite"] = "export_tflite"
    models: list[ModelRole] = ["teacher", "student"]
    formats: list[Literal["fp32", "fp16", "int8"]] = Field(default=["fp32", "fp16", "int8"], min_length=1)
    threads: PositiveInt = 1


class ExportTfliteStage(Stage):
    type = "export_tflite"
    Config = ExportTfliteConfig

    def run(self, config: ExportTfliteConfig, ctx, out: Path) -> dict[str, Any]:
        def convert_with_threads(module, precision, sample, folder, stem):
            return convert(module, precision, sample, folder, stem, config.threads)

        return export_all(ctx, out, config.models, config.formats, family="tflite", convert=convert_with_threads)


def convert(module, precision: str, sample, out: Path, stem: str, threads: int):
    """Write `<stem>.tflite`; return its file name, extra record fields and a runtime to check it."""
    from edgekd.export import tflite_export
    from edgekd.runtimes.litert_rt import LiteRTRuntime

    path = out / f"{stem}.tflite"
    if precision == "fp32":
        tflite_export.export_tflite_fp32(module, sample, path)
    elif precision == "fp16":
        fp32_path = out / f".{stem}.fp32.tflite"
        tflite_export.export_tflite_fp32(module, sample, fp32_path)
        try:
            tflite_export.cast_weights_fp16(fp32_path, path)
        finally:
            fp32_path.unlink(missing_ok=True)
    else:
        tflite_export.export_tflite_int8(module, sample, path)
    runtime = LiteRTRuntime(path, threads=threads)
    return path.name, {"runtime": "litert", "input_dtype": str(runtime.input_dtype)}, runtime
