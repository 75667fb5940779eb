"""Write report.json, report.md and report.html; the terminal tables are in edgekd.report.terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


COLUMNS = [
    ("model", "model", "{}"), ("format", "format", "{}"), ("target", "target", "{}"),
    ("batch_size", "batch", "{}"), ("accuracy", "acc %", "pct"), ("delta_accuracy_pt", "Δ vs teacher (pt)", "{:+.2f}"),
    ("latency_ms_p50", "p50 ms", "{:.3f}"), ("latency_ms_p90", "p90 ms", "{:.3f}"),
    ("latency_ms_p99", "p99 ms", "{:.3f}"), ("cold_start_ms", "cold start ms", "{:.1f}"),
    ("gflops_fraction_of_peak", "% of matmul peak", "pct"),
    ("speedup_vs_teacher", "speedup", "{:.1f}×"), ("instructions_per_inference", "insns / inference", "{:,}"),
    ("instruction_ratio_vs_teacher", "insns vs teacher", "{:.1f}×"), ("size_bytes", "size", "bytes"),
    ("compression_vs_teacher", "compression", "{:.1f}×"), ("parity_max_abs", "parity max abs Δ", "{:.1e}"),
    ("top1_agreement", "top-1 agree %", "pct"), ("fp32_top1_agreement", "agree w/ fp32 %", "pct"),
    ("status", "status", "{}"),
]


def status_cell(row: dict[str, Any]) -> str:
    """`ok`, or the status with its reason (`failed: ...`, `skipped: ...`)."""
    return "ok" if row["status"] == "ok" else f"{row['status']}: {row.get('reason') or 'unknown'}"


def cell(value: Any, fmt: str) -> str:
    if value is None:
        return "—"
    if fmt == "pct":
        return f"{100 * value:.2f}"
    if fmt == "bytes":
        return _human_bytes(value)
    return fmt.format(value)


def _human_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def render_markdown(report: dict[str, Any]) -> str:
    lines = [f"# edgekd report: {report['pipeline']}", ""]
    summary = report.get("summary", {})
    if summary:
        lines += ["## Summary", ""] + [f"- {line}" for line in summary_lines(report)] + [""]
    lines += ["## Models", "", "| " + " | ".join(h for _, h, _ in COLUMNS) + " |",
              "|" + "---|" * len(COLUMNS)]
    for row in report["rows"]:
        cells = [cell(row.get(key), fmt) for key, _, fmt in COLUMNS[:-1]] + [status_cell(row)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Latency: median (p50) and p90 over at least 200 timed calls after warm-up, each call one batch of "
              "the size in the `batch` column. Speedup and compression compare with the teacher's fp32 model in "
              "the same format family on the same target at the same batch size. Parity: max |logit difference| "
              "and top-1 agreement with the PyTorch model the file was exported from (for int8: the fake-"
              "quantised PyTorch model, PTQ or QAT as report.json's `reference` says), on the test set; `agree w/"
              " fp32` compares int8 files with the fp32 PyTorch model. Cold start: load (session creation) plus "
              "the first inference. % of matmul peak: achieved GFLOP/s (2 × MACs per inference at the median "
              "latency) over the best of torch and ONNX Runtime on a 1024² fp32 matmul on the same threads. "
              "report.json also has peak_rss_bytes (the process's peak so far) and rss_growth_bytes (resident "
              "memory added by loading and running the model). Rows on `qemu-aarch64-*` targets run the same file"
              " under QEMU user-mode emulation of that Arm core: their cost is emulated AArch64 instructions per "
              "inference (single thread, median), not milliseconds, and their parity is against x86 running the "
              "same file (PyTorch rows: the same weights in x86 PyTorch).", ""]
    kd = report.get("kd_vs_ce")
    if kd and "ce" in kd:
        lines += versus_ce_lines(kd, "kd")
    elif report.get("method_vs_ce"):
        lines += versus_ce_lines(report["method_vs_ce"], report["method_vs_ce"]["method"])
    lines += embedding_lines(report.get("embedding"))
    if report.get("data_notes"):
        lines += ["## Data", "", report["data_notes"] + ".", ""]
    lines += per_class_lines(report.get("per_class"))
    lines += ["## Environment", "", "```", json.dumps(report.get("environment", {}), indent=2), "```", ""]
    return "\n".join(lines)


METHOD_LABELS = {"kd": ("Hinton KD from cached teacher logits", "Distillation"),
                 "mutual": ("deep mutual learning (peer 0)", "Mutual learning"),
                 "self_distill": ("self-distillation, deepest exit", "Self-distillation")}


def versus_ce_lines(found: dict[str, Any], method: str) -> list[str]:
    """The student's training method against the same student with cross-entropy alone, per seed."""
    label, name = METHOD_LABELS[method]
    lines = ["## Does distillation help?", "",
             f"Same student, same {found['epochs']} epochs, seeds {found[method]['seeds']}:", "",
             "| training | mean test acc % | std | per seed |", "|---|---|---|---|"]
    for key, row_label in ((method, label), ("ce", "cross-entropy only")):
        values = ", ".join(f"{100 * a:.2f}" for a in found[key]["accuracies"])
        lines.append(f"| {row_label} | {100 * found[key]['mean']:.2f} | {100 * found[key]['std']:.2f} | {values} |")
    gain = 100 * (found[method]["mean"] - found["ce"]["mean"])
    verdict = "beats" if gain > 0 else "does not beat"
    return lines + ["", f"{name} {verdict} cross-entropy alone here: {gain:+.2f} pt on the mean.", ""]


def embedding_lines(found: dict[str, Any] | None) -> list[str]:
    """How closely a student embedder's held-out neighbours and similarities follow the teacher's."""
    if not found:
        return []
    lines = ["## Does the student embed like the teacher?", "",
             "On the held-out sentences: recall@10 is the share of each sentence's 10 nearest neighbours "
             "(cosine) under the student that are also the teacher's; Spearman is the rank correlation of all "
             "pairwise similarities.", "", "| measure | mean | std | per seed |", "|---|---|---|---|"]
    for metric, summary in found["seeds"].items():
        values = ", ".join(f"{v:.4f}" for v in summary["accuracies"])
        lines.append(f"| {metric} | {summary['mean']:.4f} | {summary['std']:.4f} | {values} |")
    return lines + [""]


def per_class_lines(found: dict[str, Any] | None) -> list[str]:
    """The per-class accuracy table (teacher, student, their gap), when the report has it."""
    if not found or not found.get("classes"):
        return []
    lines = ["## Per-class test accuracy (PyTorch fp32)", "", "| class | teacher % | student % | Δ (pt) |",
             "|---|---|---|---|"]
    for name, teacher, student in zip(found["classes"], found["teacher"], found["student"]):
        gap = f"{100 * (student - teacher):+.2f}" if teacher is not None and student is not None else "—"
        lines.append(f"| {name} | {cell(teacher, 'pct')} | {cell(student, 'pct')} | {gap} |")
    return lines + [""]


def summary_lines(report: dict[str, Any]) -> list[str]:
    s = report["summary"]
    lines = []
    if s.get("teacher_params") and s.get("student_params"):
        lines.append(f"Student has {s['student_params']:,} parameters vs the teacher's {s['teacher_params']:,} "
                     f"({s['teacher_params'] / s['student_params']:.1f}× fewer).")
    if s.get("teacher_accuracy") is not None and s.get("student_accuracy") is not None:
        lines.append(f"Test accuracy: teacher {100 * s['teacher_accuracy']:.2f} %, student (PyTorch fp32) "
                     f"{100 * s['student_accuracy']:.2f} %.")
    if s.get("student_macs_ratio") is not None:
        lines.append(f"The student was pruned to {100 * s['student_macs_ratio']:.0f} % of its MACs (structured: "
                     "whole channels removed, so its files and latency shrink).")
    if s.get("student_sparsity") is not None:
        lines.append(f"The student's weights are {100 * s['student_sparsity']:.0f} % zeros (unstructured). gzip "
                     f"shrinks its weights file {s['student_gzip_ratio']:.2f}× (dense: {s['dense_gzip_ratio']:.2f}×), "
                     "but the dense ONNX/TFLite files, parameter count and latency are unchanged.")
    int8 = s.get("student_int8")
    if int8 and int8.get("status") == "failed":
        lines.append(f"The student could not be quantised to int8 ({int8['method']}): {int8['reason']}")
    elif int8 and int8["method"] == "qat":
        lines.append(f"The student's int8 files take their ranges from quantisation-aware KD fine-tuning "
                     f"({int8['epochs']} epochs): PyTorch int8 accuracy {100 * int8['accuracy']:.2f} %, against "
                     f"{100 * int8['ptq_accuracy']:.2f} % for PTQ int8 and {100 * int8['fp32_accuracy']:.2f} % "
                     "for fp32.")
    elif int8:
        lines.append(f"The student's int8 files are post-training quantised (PTQ): PyTorch int8 accuracy "
                     f"{100 * int8['accuracy']:.2f} %.")
    return lines


def write_report(report: dict[str, Any], out: Path) -> None:
    (out / "report.json").write_text(json.dumps(report, indent=2))
    write_rendered(report, out)


def write_rendered(report: dict[str, Any], out: Path) -> None:
    """report.md and report.html, from the report.json content."""
    from edgekd.report.html import render_html

    (out / "report.md").write_text(render_markdown(report))
    (out / "report.html").write_text(render_html(report))


def print_report_table(folder: Path, console: Console | None = None) -> None:
    """The report's terminal tables; they live in edgekd.report.terminal (imported late: it imports
    this module), this name stays for the callers that import it from here."""
    from edgekd.report.terminal import print_report_table as print_tables

    print_tables(folder, console)
