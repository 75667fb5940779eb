"""The pipelines shipped in pipelines/ are valid, and the prune + QAT worked example runs end to end."""

import json
from pathlib import Path

import pytest

from edgekd.config import load_config
from edgekd.pipeline import run

SHIPPED = sorted(p for p in Path("pipelines").glob("*.yaml") if not p.name.endswith(".budget.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_pipeline_is_valid(path):
    assert load_config(path).stages


def test_distill_prune_qat_example_runs_reduced(tmp_path):
    """The worked example, on 5k images with one epoch per training step and a short bench."""
    config = load_config("pipelines/distill_prune_qat.yaml", overrides={
        "artifacts_dir": str(tmp_path / "artifacts"), "data.train_subset": 5000, "data.test_subset": 1000,
        "stages.2.train.epochs": 1, "stages.2.width": 16, "stages.3.stages": 2, "stages.3.final_epochs": 0,
        "stages.5.train.epochs": 1, "stages.8.min_seconds": 0.05,
    })
    result = run(config)
    assert [o.type for o in result.outcomes][-1] == "report"
    pruned, qat = result.artifacts["prune"].metrics, result.artifacts["qat"].metrics
    assert pruned["macs_ratio"] <= 0.5
    assert qat["models"]["student"]["source_artifact"] == result.artifacts["prune"].id
    report = json.loads((result.artifacts["report"].path / "report.json").read_text())
    student_int8 = {r["format"]: r for r in report["rows"] if r["model"] == "student" and r["format"].endswith("int8")}
    assert set(student_int8) == {"onnx_int8", "tflite_int8"}
    assert all(r["status"] == "ok" and r["reference"] == "pytorch int8 (QAT fake-quant)" for r in student_int8.values())
    assert report["summary"]["student_int8"]["method"] == "qat"
