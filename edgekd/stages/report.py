"""`report`: teacher-vs-student report (report.json, report.md) from the benchmark rows."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any, Literal

from edgekd.config import StageConfig
from edgekd.stages.base import Stage


class ReportConfig(StageConfig):
    type: Literal["report"] = "report"


class ReportStage(Stage):
    type = "report"
    Config = ReportConfig

    def run(self, config: ReportConfig, ctx, out: Path) -> dict[str, Any]:
        from edgekd.bench.rows import failed_rows
        from edgekd.report.render import write_report
        from edgekd.report.rows import SCHEMA_VERSION, report_rows
        from edgekd.stages.bench import RESULTS_FILE
        from edgekd.stages.model_refs import model_artifact

        bench = ctx.latest("bench")
        rows = report_rows(json.loads((bench.path / RESULTS_FILE).read_text())["rows"])
        # A pipeline without a teacher (mutual learning, self-distillation) reports its student alone.
        teacher = model_artifact(ctx, "teacher") if ctx.maybe_latest("teacher") else None
        student = model_artifact(ctx, "student")
        report = {
            "schema_version": SCHEMA_VERSION,
            "pipeline": ctx.config.name,
            "rows": rows,
            "kd_vs_ce": student.metrics.get("kd_vs_ce"),
            "method_vs_ce": _method_vs_ce(student),
            "embedding": _embedding(student),
            "data_notes": ctx.data.raw.description if ctx.data.raw.tokens else None,
            "summary": {
                "teacher_accuracy": teacher.metrics.get("accuracy") if teacher else None,
                "student_accuracy": student.metrics.get("accuracy"),
                "teacher_params": teacher.metrics.get("params") if teacher else None,
                "student_params": student.metrics.get("params"),
                "student_macs_ratio": student.metrics.get("macs_ratio"),  # set by prune
                "student_sparsity": student.metrics.get("sparsity"),  # set by sparsify
                "student_gzip_ratio": student.metrics.get("gzip_ratio"),
                "dense_gzip_ratio": student.metrics.get("dense_gzip_ratio"),
                "student_int8": _student_int8(ctx),
            },
            "per_class": per_class(ctx, teacher, student) if ctx.data.raw.labelled else None,
            "environment": environment(),
        }
        write_report(report, out)
        return {"rows": len(rows), "failures": failed_rows(rows)}


def _method_vs_ce(student) -> dict[str, Any] | None:
    """A student trained its own way (mutual learning, self-distillation) against CE alone."""
    for method in ("mutual", "self_distill"):
        found = student.metrics.get(f"{method}_vs_ce")
        if found and "ce" in found:
            return {**found, "method": method}
    return None


def _student_int8(ctx) -> dict[str, Any] | None:
    """How the student's int8 files were quantised (PTQ or QAT), and what that cost in accuracy."""
    from edgekd.errors import ConfigError
    from edgekd.stages.model_refs import quantizer_artifact

    try:
        name, quantizer = quantizer_artifact(ctx, "student")
    except ConfigError:
        return None
    metrics = quantizer.metrics
    entry = metrics["models"]["student"]
    if entry.get("status") == "failed":
        return {"method": ctx.stage_types[name], "status": "failed", "reason": entry["reason"]}
    return {"method": ctx.stage_types[name], "accuracy": entry["accuracy"],
            "ptq_accuracy": metrics.get("ptq_accuracy"), "fp32_accuracy": metrics.get("fp32_accuracy"),
            "epochs": metrics.get("epochs")}


def _embedding(student) -> dict[str, Any] | None:
    """An embedding student's retrieval fidelity to its teacher (recall@10, Spearman), per seed."""
    if student.metrics.get("objective") != "embedding":
        return None
    return {"retrieval": student.metrics["retrieval"], "seeds": student.metrics["embedding_seeds"]}


def per_class(ctx, teacher, student) -> dict[str, Any]:
    """Test accuracy per class of the teacher and the student (PyTorch fp32), under the data's class
    names: where the student lost what the teacher knew."""
    from edgekd.data.input_transform import for_model
    from edgekd.model_artifacts import input_spec_of, load_model, per_class_accuracy, torch_logits

    test = ctx.data.split("test")
    names = list(ctx.data.input_spec.class_names)
    found = {"classes": names}
    for role, artifact in (("teacher", teacher), ("student", student)):
        if artifact is None:  # no teacher in this pipeline
            found[role] = [None] * len(names)
            continue
        seen = for_model(test, input_spec_of(artifact))  # a cross-input student reads its own view
        by_name = per_class_accuracy(torch_logits(load_model(artifact), seen.inputs), seen.labels, names)
        found[role] = [by_name.get(name) for name in names]
    return found


def environment() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    packages = {}
    for name in ("torch", "onnxruntime", "onnx", "ai-edge-litert", "litert-torch", "numpy"):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    import os

    return {"machine": platform.machine(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "python": platform.python_version(), "packages": packages}
