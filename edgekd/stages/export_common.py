"""What every export stage does: convert each model in each precision, check parity, record a row.

A conversion that fails does not stop the others: its row is kept with `status: failed` and the
converter's reason, and the stage reports it under `failures` so the run can exit with a partial
failure code while every format that worked is still benchmarked.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any, Callable

from edgekd.errors import ConfigError

FP32_REFERENCE = "pytorch fp32"
PTQ_REFERENCE = "pytorch int8 (PT2E fake-quant)"
QAT_REFERENCE = "pytorch int8 (QAT fake-quant)"


def export_all(ctx, out: Path, roles: list[str], precisions: list[str], family: str,
               convert: Callable) -> dict[str, Any]:
    from edgekd.model_artifacts import torch_logits
    from edgekd.parity import parity
    from edgekd.runtimes.base import predict
    from edgekd.stages.model_refs import load_role

    test = ctx.data.split("test")
    records, failures = [], []
    for role in roles:
        for precision in precisions:
            fmt = f"{family}_{precision}"
            record: dict[str, Any] = {"model": role, "format": fmt}
            try:
                module, reference_name = _source_module(ctx, role, precision)
                filename, extra, runtime = convert(module, precision, test.inputs, out, f"{role}_{precision}")
                attach_input_spec(out / filename, family, ctx.data.input_spec)
                reference = torch_logits(module, test.inputs)
                exported = predict(runtime, test.inputs)
                record.update(extra, file=filename, status="ok", reference=reference_name,
                              **parity(reference, exported))
                if reference_name != FP32_REFERENCE:  # quantised: also say how far from the fp32 model
                    fp32 = parity(torch_logits(load_role(ctx, role), test.inputs), exported)
                    record.update(fp32_parity_max_abs=fp32["parity_max_abs"],
                                  fp32_top1_agreement=fp32["top1_agreement"])
                ctx.console.print(f"{role} {fmt}: max|Δ| {record['parity_max_abs']:.2e}, "
                                  f"top-1 agreement {100 * record['top1_agreement']:.2f} %")
            except ConfigError:
                raise
            except Exception as exc:  # a converter refusing a model is a report row, not a crash
                reason = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
                record.update(status="failed", reason=reason[:300], runtime=family_runtime(family))
                (out / f"{role}_{precision}.error.txt").write_text(traceback.format_exc())
                failures.append(f"{role}/{fmt}")
                ctx.console.print(f"[red]{role} {fmt}: export failed: {reason}[/]")
            records.append(record)
    return {"exports": records, "failures": failures}


def attach_input_spec(path: Path, family: str, spec) -> None:
    """The preprocessing travels with the file: ONNX metadata_props, or a JSON sidecar by a .tflite."""
    from edgekd.export.input_spec_files import write_onnx_input_spec, write_tflite_sidecar

    if family == "onnx":
        write_onnx_input_spec(path, spec)
    else:
        write_tflite_sidecar(path, spec)


def family_runtime(family: str) -> str:
    return {"onnx": "onnxruntime", "tflite": "litert"}[family]


def _source_module(ctx, role: str, precision: str):
    """The PyTorch module an export starts from, and the name of that reference in the report."""
    from edgekd.stages.model_refs import load_role

    if precision in ("fp32", "fp16"):
        return load_role(ctx, role), FP32_REFERENCE
    from edgekd.stages.model_refs import model_artifact, quantizer_artifact

    name, quantizer = quantizer_artifact(ctx, role)
    entry = quantizer.metrics["models"][role]
    if entry.get("status") == "failed":
        raise RuntimeError(f"the {name} stage could not quantise the {role}: {entry['reason']}")
    if entry["source_artifact"] != model_artifact(ctx, role).id:
        raise ConfigError(f"the {name} stage quantised another {role} than the one being "
                          "exported; put ptq / qat after the stage that makes the model")
    test = ctx.data.split("test")
    if ctx.stage_types[name] == "qat":
        from edgekd.compress import qat

        return qat.load(load_role(ctx, role), quantizer.file(entry["file"]), test.inputs), QAT_REFERENCE
    from edgekd.compress.quantization import load_calibrated

    return load_calibrated(load_role(ctx, role), quantizer.file(entry["file"]), test.inputs), PTQ_REFERENCE
