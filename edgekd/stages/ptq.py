"""`ptq`: static int8 post-training quantisation of each model, calibrated on training images."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import PositiveInt

from edgekd.config import StageConfig
from edgekd.stages.base import Stage
from edgekd.stages.transfer_set import training_split
from edgekd.stages.model_refs import ModelRole

CALIBRATION_FILE = "{role}_int8_calibration.safetensors"


class PtqConfig(StageConfig):
    type: Literal["ptq"] = "ptq"
    models: list[ModelRole] = ["teacher", "student"]
    calibration_samples: PositiveInt = 512


class PtqStage(Stage):
    type = "ptq"
    Config = PtqConfig

    def run(self, config: PtqConfig, ctx, out: Path) -> dict[str, Any]:
        from edgekd.model_artifacts import accuracy, torch_logits
        from edgekd.compress.quantization import calibrate, calibration_sample, convert, save_calibration
        from edgekd.data.input_transform import apply_transform, recorded_transform
        from edgekd.stages.model_refs import load_role, model_artifact, role_input_spec, role_split

        full_calibration = calibration_sample(training_split(ctx).inputs, config.calibration_samples, ctx.seed)
        metrics: dict[str, Any] = {"calibration_samples": int(len(full_calibration)),
                                   "scheme": "int8 symmetric per-channel weights, per-tensor activations",
                                   "models": {}}
        failures = []
        for role in config.models:
            test = role_split(ctx, role, "test")  # a cross-input student calibrates on its own view
            calibration = apply_transform(recorded_transform(role_input_spec(ctx, role)), full_calibration)
            try:
                prepared = calibrate(load_role(ctx, role), calibration)
            except Exception as exc:  # torch.export cannot trace it: the int8 rows say why, fp32 goes on
                reason = one_line_reason(exc)
                ctx.console.print(f"[red]{role}: PT2E quantisation failed: {reason}[/]")
                metrics["models"][role] = {"status": "failed", "reason": reason,
                                           "source_artifact": model_artifact(ctx, role).id}
                failures.append(f"{role}/int8")
                continue
            filename = CALIBRATION_FILE.format(role=role)
            save_calibration(prepared, out / filename)
            int8_accuracy = accuracy(torch_logits(convert(prepared), test.inputs), test.labels)
            ctx.console.print(f"{role}: PyTorch int8 (fake-quant) test accuracy {int8_accuracy:.4f}")
            metrics["models"][role] = {"file": filename, "accuracy": int8_accuracy,
                                       "source_artifact": model_artifact(ctx, role).id}
        return {**metrics, "failures": failures}


def one_line_reason(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:300]
