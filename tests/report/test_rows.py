from edgekd.report.render import render_markdown
from edgekd.report.rows import report_rows


def _row(model, fmt, target, acc, p50, size, status="ok", **extra):
    return {"model": model, "format": fmt, "target": target, "accuracy": acc, "latency_ms_p50": p50,
            "latency_ms_p90": p50 * 1.1, "size_bytes": size, "status": status, **extra}


BENCH = [
    _row("teacher", "pytorch", "torch-cpu", 0.92, 1.0, 4000),
    _row("teacher", "tflite_fp32", "litert", 0.92, 0.8, 4000),
    _row("student", "tflite_int8", "litert", 0.90, 0.1, 100),
    {"model": "student", "format": "tflite_fp16", "target": "litert", "status": "failed",
     "reason": "ValueError: unsupported op", "accuracy": None, "size_bytes": None},
]


def test_deltas_are_against_the_teacher_in_the_same_family_and_target():
    rows = {(r["model"], r["format"]): r for r in report_rows(BENCH)}
    student = rows[("student", "tflite_int8")]
    assert abs(student["delta_accuracy_pt"] + 2) < 1e-9
    assert student["speedup_vs_teacher"] == 8.0
    assert student["compression_vs_teacher"] == 40.0


def test_failed_export_keeps_its_row_and_reason():
    rows = report_rows(BENCH)
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["speedup_vs_teacher"] is None
    markdown = render_markdown({"pipeline": "p", "rows": rows})
    assert "failed: ValueError: unsupported op" in markdown
