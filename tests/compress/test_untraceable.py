"""A model `torch.export` cannot trace: its int8 rows fail with the reason, its fp32 rows still pass."""

import json

import pytest

from edgekd.pipeline import run
from tests.compress.distilled import distilled_then


@pytest.mark.e2e
def test_untraceable_student_gets_failed_int8_rows_and_working_fp32_rows(tmp_path):
    config = distilled_then(tmp_path, "untraceable", [
        {"type": "ptq", "models": ["student"], "calibration_samples": 64},
        {"type": "export_onnx", "models": ["student"], "formats": ["fp32", "int8"]},
        {"type": "bench", "models": ["student"], "min_seconds": 0.02},
        {"type": "report"},
    ], train_subset=500, test_subset=200, distill_epochs=1,
        student="file:tests/compress/untraceable_model.py:build")
    result = run(config)
    assert result.partial_failures  # the run says it was partial, and goes on to the report
    report = json.loads((result.artifacts["report"].path / "report.json").read_text())
    rows = {(r["format"], r["target"]): r for r in report["rows"]}
    assert rows[("pytorch", "torch-cpu")]["status"] == "ok"
    int8 = rows[("onnx_int8", "ort-cpu")]
    assert int8["status"] == "failed" and "could not quantise the student" in int8["reason"]
    fp32 = rows[("onnx_fp32", "ort-cpu")]
    print(fp32["status"], fp32.get("reason"))
    assert fp32["status"] == "ok"
