"""report.html: self-contained, with the plots, and it really renders in headless Chromium."""

import shutil
import subprocess

import numpy as np
import pytest

from edgekd.report.html import pareto_front, render_html


def _row(model, fmt, target, p50, accuracy, size, **extra):
    return {"model": model, "format": fmt, "target": target, "status": "ok", "reason": None,
            "latency_ms_p50": p50, "latency_ms_p90": p50 * 1.2, "latency_ms_p99": p50 * 1.5,
            "accuracy": accuracy, "size_bytes": size, "delta_accuracy_pt": 100 * (accuracy - 0.926),
            "speedup_vs_teacher": 0.25 / p50, **extra}


REPORT = {
    "pipeline": "html-test",
    "rows": [
        _row("teacher", "onnx_fp32", "ort-cpu", 0.25, 0.926, 3_400_000),
        _row("student", "onnx_fp32", "ort-cpu", 0.031, 0.917, 236_000),
        _row("student", "onnx_int8", "ort-cpu", 0.040, 0.918, 99_000),
        _row("student", "tflite_int8", "litert", 0.026, 0.916, 70_000),
        {**_row("student", "onnx_fp32", "qemu-aarch64-cortex-a53", 1.0, 0.9, 236_000),
         "latency_ms_p50": None, "accuracy": None, "instructions_per_inference": 751_562},
        {"model": "student", "format": "tflite_fp16", "target": "litert", "status": "failed",
         "reason": "converter refused <op>"},
    ],
    "summary": {}, "environment": {"python": "3.11"},
}


def test_page_is_self_contained_with_every_plot():
    page = render_html(REPORT)
    assert page.count("<svg") == 5  # latency, Pareto, size, vs teacher, emulated instructions
    assert "src=\"http" not in page and "<link" not in page and "<script" not in page
    assert "failed: converter refused &lt;op&gt;" in page  # escaped, and the failure is shown


def test_pareto_front_keeps_only_undominated_rows():
    rows = [r for r in REPORT["rows"] if r.get("latency_ms_p50")]
    front = [(r["format"], r["target"]) for r in pareto_front(rows)]
    assert front == [("tflite_int8", "litert"), ("onnx_fp32", "ort-cpu"), ("onnx_int8", "ort-cpu"),
                     ("onnx_fp32", "ort-cpu")]


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed (make browser)")
def test_chromium_renders_the_plots(tmp_path):
    from PIL import Image

    page = tmp_path / "report.html"
    page.write_text(render_html(REPORT))
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1200,2400", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    # the bar colours of the plots are on screen: the student's blue and the teacher's brown
    blue = (np.abs(pixels - [0x31, 0x82, 0xBD]).sum(axis=2) < 30).sum()
    brown = (np.abs(pixels - [0x8C, 0x6D, 0x31]).sum(axis=2) < 30).sum()
    assert blue > 2000 and brown > 500, (blue, brown)
