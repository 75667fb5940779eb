"""`export_onnx`: fp32 and int8 (QDQ) ONNX for each model, each checked against PyTorch."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from edgekd.config import StageConfig
from edgekd.stages.base import Stage
from edgekd.stages.export_common import export_all
from edgekd.stages.model_refs import ModelRole


class ExportOnnxConfig(StageConfig):
    type: Literal["export_onnx"] = "export_onnx"
    models: list[ModelRole] = ["teacher", "student"]
    formats: list[Literal["fp32", "int8"]] = Field(default=["fp32", "int8"], min_length=1)
    int8: Literal["static", "dynamic"] = Field(
        "static", description="static: the ptq/qat stage's Q/DQ model (uint8 activations); dynamic: ORT "
        "dynamic quantisation of the fp32 file (int8 weights, no calibration; the transformer route)")


class ExportOnnxStage(Stage):
    type = "export_onnx"
    Config = ExportOnnxConfig

    def run(self, config: ExportOnnxConfig, ctx, out: Path) -> dict[str, Any]:
        if config.int8 == "static":
            return export_all(ctx, out, config.models, config.formats, family="onnx", convert=convert)

        def convert_dynamic(module, precision, sample, folder, stem):
            return convert(module, precision, sample, folder, stem, dynamic_int8=True)

        return export_all(ctx, out, config.models, config.formats, family="onnx", convert=convert_dynamic,
                          float_sourced=("fp32", "int8"))


def convert(module, precision: str, sample, out: Path, stem: str, dynamic_int8: bool = False):
    """Write `<stem>.onnx`; return its file name, extra record fields and a runtime to check it.
    With `dynamic_int8`, an int8 file is the fp32 export quantised by ORT at run time."""
    from edgekd.export.onnx_export import export_onnx, integer_op_share, quantize_dynamic_file
    from edgekd.runtimes.onnxruntime_rt import OrtRuntime

    filename = f"{stem}.onnx"
    if precision == "int8" and dynamic_int8:
        fp32_path = out / f".{stem}.fp32.onnx"
        try:
            export_onnx(module, sample, fp32_path)
            quantize_dynamic_file(fp32_path, out / filename)
        finally:
            fp32_path.unlink(missing_ok=True)
    else:
        export_onnx(module, sample, out / filename)  # static int8: uint8 activations, int8 weights (U8S8)
    extra: dict[str, Any] = {"runtime": "onnxruntime", "provider": "CPUExecutionProvider"}
    if precision == "int8":
        extra["int8_method"] = "ort dynamic" if dynamic_int8 else "static QDQ"
        optimized = out.parent / f".{out.name}-{stem}.optimized.onnx"
        try:
            extra.update(integer_op_share(out / filename, optimized))
        finally:
            optimized.unlink(missing_ok=True)
    return filename, extra, OrtRuntime(out / filename)
