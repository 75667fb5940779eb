"""Structured pruning through the real pipeline: the student really shrinks, in every format."""

import pytest

from edgekd.errors import ConfigError
from edgekd.pipeline import run
from tests.compress.distilled import distilled_then


def _pipeline(tmp_path, prune: dict):
    return distilled_then(tmp_path, "prune", [
        {"type": "prune", "stages": 2, "final_epochs": 1, **prune},
        {"type": "export_onnx", "formats": ["fp32"]},
    ], train_subset=3000, test_subset=500, distill_epochs=2)


def test_pruned_student_is_smaller_and_still_learns(tmp_path):
    result = run(_pipeline(tmp_path, {"keep_macs": 0.5}))
    pruned = result.artifacts["prune"].metrics
    assert pruned["macs_ratio"] <= 0.5 and pruned["params_ratio"] < 0.7
    assert [s["stage"] for s in pruned["stages"]] == [1, 2]
    assert pruned["stages"][0]["macs_ratio"] > pruned["stages"][1]["macs_ratio"]  # gradual
    assert pruned["shape_changes"]["features.0"]["out_channels"] < 16 and pruned["accuracy"] > 0.6
    export = result.artifacts["export_onnx"]
    onnx = next(e for e in export.metrics["exports"] if e["model"] == "student")
    assert onnx["status"] == "ok" and onnx["parity_max_abs"] < 1e-4
    size = (export.path / onnx["file"]).stat().st_size
    assert size < 0.7 * 236_000  # the unpruned student's fp32 ONNX is ~231 KB


def test_pruned_model_of_another_architecture_rebuilds_exactly(tmp_path):
    """Generic persistence: shapes recorded, a fresh build resized, weights loaded strictly."""
    from edgekd.context import DataSource
    from edgekd.model_artifacts import accuracy, load_model, torch_logits

    config = distilled_then(tmp_path, "prune-teacher", [{"type": "prune", "stages": 1, "final_epochs": 0}],
                            train_subset=500, test_subset=100, distill_epochs=1, student="fmnist_teacher", width=4)
    result = run(config)
    pruned = result.artifacts["prune"]
    assert pruned.metrics["shape_changes"] and pruned.metrics["macs_ratio"] <= 0.5
    test = DataSource(config.data).split("test")
    assert accuracy(torch_logits(load_model(pruned), test.inputs), test.labels) == pruned.metrics["accuracy"]


def test_prune_refuses_a_model_with_nothing_to_prune(tmp_path):
    config = distilled_then(tmp_path, "prune-onnx", [{"type": "prune"}], train_subset=500, test_subset=100,
                            distill_epochs=1, student="file:tests/compress/linear_model.py:build")
    with pytest.raises(ConfigError, match="torch-pruning cannot prune"):
        run(config)


def test_unstructured_sparsity_is_reported_honestly(tmp_path):
    import json

    config = distilled_then(tmp_path, "sparse", [
        {"type": "sparsify", "amount": 0.8},
        {"type": "export_onnx", "formats": ["fp32"]},
        {"type": "bench", "models": ["student"], "min_seconds": 0.05},
        {"type": "report"},
    ], train_subset=2000, test_subset=300, distill_epochs=1)
    result = run(config)
    sparse = result.artifacts["sparsify"].metrics
    assert 0.79 <= sparse["sparsity"] <= 0.81
    assert sparse["gzip_ratio"] > 2 * sparse["dense_gzip_ratio"]  # zeros compress...
    assert sparse["params"] == result.artifacts["distill"].metrics["params"]  # ...but the model stays dense
    report = (result.artifacts["report"].path / "report.md").read_text()
    assert "80 % zeros" in report and "latency are unchanged" in report
    summary = json.loads((result.artifacts["report"].path / "report.json").read_text())["summary"]
    assert summary["student_sparsity"] == sparse["sparsity"]
