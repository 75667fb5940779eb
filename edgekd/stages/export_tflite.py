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
    int8: Literal["static", "dynamic"] = Field(
        "static", description="static: full-integer from the ptq/qat stage; dynamic: int8 weights of the fp32 "
        "file, activations quantised at run time (ai-edge-quantizer dynamic_wi8_afp32; the transformer route)")


class ExportTfliteStage(Stage):
    type = "export_tflite"
    Config = ExportTfliteConfig

    def run(self, config: ExportTfliteConfig, ctx, out: Path) -> dict[str, Any]:
        dynamic = config.int8 == "dynamic"

        def convert_with_threads(module, precision, sample, folder, stem):
            return convert(module, precision, sample, folder, stem, config.threads, dynamic_int8=dynamic)

        return export_all(ctx, out, config.models, config.formats, family="tflite", convert=convert_with_threads,
                          float_sourced=("fp32", "fp16", "int8") if dynamic else ("fp32", "fp16"))


def convert(module, precision: str, sample, out: Path, stem: str, threads: int, dynamic_int8: bool = False):
    """Write `<stem>.tflite`; return its file name, extra record fields and a runtime to check it."""
    from edgekd.export import tflite_export
    from edgekd.runtimes.litert_rt import LiteRTRuntime

    path = out / f"{stem}.tflite"
    if precision == "fp32":
        tflite_export.export_tflite_fp32(module, sample, path)
    elif precision == "fp16" or dynamic_int8:
        fp32_path = out / f".{stem}.fp32.tflite"
        tflite_export.export_tflite_fp32(module, sample, fp32_path)
        requantize = tflite_export.cast_weights_fp16 if precision == "fp16" else tflite_export.quantize_dynamic_int8
        try:
            requantize(fp32_path, path)
        finally:
            fp32_path.unlink(missing_ok=True)
    else:
        tflite_export.export_tflite_int8(module, sample, path)
    runtime = LiteRTRuntime(path, threads=threads)
    extra = {"runtime": "litert", "input_dtype": str(runtime.input_dtype)}
    if precision == "int8":
        extra["int8_method"] = "dynamic (int8 weights)" if dynamic_int8 else "full integer"
    return path.name, extra, runtime
