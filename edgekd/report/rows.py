"""Turn benchmark rows into report rows: deltas, speedups and compression against the teacher."""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = 1


def family(fmt: str) -> str:
    """Container family of a format: pytorch, onnx or tflite."""
    return fmt.split("_")[0]


def report_rows(bench_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row compared with the teacher's fp32 model in the same family, target and batch size.

    Same family and target keeps the comparison fair: an int8 TFLite student is compared with the
    fp32 TFLite teacher in the same interpreter, so speedup and compression include both the
    distillation and the quantisation gains.
    """
    teacher = next((r for r in bench_rows if r["model"] == "teacher" and r["format"] == "pytorch"), None)
    references = {
        (family(r["format"]), r["target"], r.get("batch_size")): r
        for r in bench_rows
        if r["model"] == "teacher" and r["status"] == "ok" and r["format"] in ("pytorch", "onnx_fp32", "tflite_fp32")
    }
    rows = []
    for row in bench_rows:
        out = {key: row.get(key) for key in (
            "model", "format", "target", "status", "reason", "accuracy", "latency_ms_p50",
            "latency_ms_p90", "latency_ms_p99", "throughput_per_s", "size_bytes", "parity_max_abs", "parity_rel",
            "top1_agreement", "cosine_min", "reference", "fp32_parity_max_abs", "fp32_top1_agreement", "runs",
            "batch_size", "instructions_per_inference", "instruction_spread", "cold_start_ms", "peak_rss_bytes",
            "rss_growth_bytes", "macs", "gflops", "peak_gflops", "gflops_fraction_of_peak")}
        out["threads"] = (row.get("runtime_info") or {}).get("threads")
        reference = references.get((family(row["format"]), row.get("target"), row.get("batch_size")))
        ok = row["status"] == "ok"
        out["delta_accuracy_pt"] = (
            100 * (row["accuracy"] - teacher["accuracy"])
            if ok and row.get("accuracy") is not None and teacher and teacher.get("accuracy") is not None else None)
        out["speedup_vs_teacher"] = _ratio(reference, row, "latency_ms_p50") if ok else None
        # emulated targets have no latency: their cost is the instruction count
        out["instruction_ratio_vs_teacher"] = _ratio(reference, row, "instructions_per_inference") if ok else None
        out["compression_vs_teacher"] = (
            reference["size_bytes"] / row["size_bytes"] if ok and reference else None)
        rows.append(out)
    return rows


def _ratio(reference: dict[str, Any] | None, row: dict[str, Any], key: str) -> float | None:
    """reference[key] / row[key], when both rows have the figure."""
    if reference is None or not reference.get(key) or not row.get(key):
        return None
    return reference[key] / row[key]
