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


class ExportOnnxStage(Stage):
    type = "export_onnx"
    Config = ExportOnnxConfig

    def run(self, config: ExportOnnxConfig, ctx, out: Path) -> dict[str, Any]:
        return export_all(ctx, out, config.models, config.formats, family="onnx", convert=convert)


def convert(module, precision: str, sample, out: Path, stem: str):
    """Write `<stem>.onnx`; return its file name, extra record fields and a runtime to check it."""
    from edgekd.export.onnx_export import export_onnx, integer_op_share
    from edgekd.runtimes.onnxruntime_rt import OrtRuntime

    filename = f"{stem}.onnx"
    export_onnx(module, sample, out / filename)  # int8: uint8 activations, int8 weights (U8S8)
    extra: dict[str, Any] = {"runtime": "onnxruntime", "provider": "CPUExecutionProvider"}
    if precision == "int8":
        optimized = out.parent / f".{out.name}-{stem}.optimized.onnx"
        try:
            extra.update(integer_op_share(out / filename, optimized))
        finally:
            optimized.unlink(missing_ok=True)
    return filename, extra, OrtRuntime(out / filename)
