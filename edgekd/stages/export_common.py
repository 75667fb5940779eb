"""What every export stage does: convert each model in each precision, check parity, record a row.

A conversion that fails does not stop the others: its row is kept with `status: failed` and the
converter's reason, and the stage reports it under `failures` so the run can exit with a partial
failure code while every format that worked is still benchmarked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from edgekd.errors import ConfigError

FP32_REFERENCE = "pytorch fp32"
PTQ_REFERENCE = "pytorch int8 (PT2E fake-quant)"
QAT_REFERENCE = "pytorch int8 (QAT fake-quant)"


FLOAT_SOURCED = ("fp32", "fp16")  # precisions converted from the float module (no ptq/qat stage)


def export_all(ctx, out: Path, roles: list[str], precisions: list[str], family: str,
               convert: Callable, float_sourced: tuple[str, ...] = FLOAT_SOURCED) -> dict[str, Any]:
    from edgekd.export.checked import export_and_check, failed_export_record
    from edgekd.model_artifacts import torch_logits
    from edgekd.stages.model_refs import load_role, role_input_spec, role_split

    records, failures = [], []
    for role in roles:
        test = role_split(ctx, role, "test")  # a cross-input student's files take its smaller view
        for precision in precisions:
            fmt = f"{family}_{precision}"
            record: dict[str, Any] = {"model": role, "format": fmt}
            try:
                module, reference_name = _source_module(ctx, role, precision, float_sourced)
                fp32_logits = None
                if reference_name != FP32_REFERENCE:  # quantised: also say how far from the fp32 model
                    fp32_logits = torch_logits(load_role(ctx, role), test.inputs)
                checked, _ = export_and_check(module, family, precision, convert, out, f"{role}_{precision}",
                                              test.inputs, role_input_spec(ctx, role), reference_name,
                                              fp32_logits)
                record.update(checked)
                ctx.console.print(f"{role} {fmt}: max|Δ| {record['parity_max_abs']:.2e}, "
                                  f"top-1 agreement {100 * record['top1_agreement']:.2f} %")
            except ConfigError:
                raise
            except Exception as exc:  # a converter refusing a model is a report row, not a crash
                record.update(failed_export_record(exc, family, out, f"{role}_{precision}"))
                failures.append(f"{role}/{fmt}")
                ctx.console.print(f"[red]{role} {fmt}: export failed: {record['reason']}[/]")
            records.append(record)
    return {"exports": records, "failures": failures}


def _source_module(ctx, role: str, precision: str, float_sourced: tuple[str, ...] = FLOAT_SOURCED):
    """The PyTorch module an export starts from, and the name of that reference in the report."""
    from edgekd.stages.model_refs import load_role

    if precision in float_sourced:
        return load_role(ctx, role), FP32_REFERENCE
    from edgekd.stages.model_refs import model_artifact, quantizer_artifact

    name, quantizer = quantizer_artifact(ctx, role)
    entry = quantizer.metrics["models"][role]
    if entry.get("status") == "failed":
        raise RuntimeError(f"the {name} stage could not quantise the {role}: {entry['reason']}")
    if entry["source_artifact"] != model_artifact(ctx, role).id:
        raise ConfigError(f"the {name} stage quantised another {role} than the one being "
                          "exported; put ptq / qat after the stage that makes the model")
    from edgekd.stages.model_refs import role_split

    test = role_split(ctx, role, "test")
    if ctx.stage_types[name] == "qat":
        from edgekd.compress import qat

        return qat.load(load_role(ctx, role), quantizer.file(entry["file"]), test.inputs), QAT_REFERENCE
    from edgekd.compress.quantization import load_calibrated

    return load_calibrated(load_role(ctx, role), quantizer.file(entry["file"]), test.inputs), PTQ_REFERENCE
