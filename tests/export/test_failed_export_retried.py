"""A failed export row is not kept as a finished result: the next run tries that stage again, and
the stages after it, which read its files, run again too."""

import pytest

import edgekd.export.checked
from edgekd.pipeline import run
from tests.compress.distilled import distilled_then


@pytest.mark.e2e
def test_a_stage_with_failed_rows_runs_again_and_so_do_the_stages_after_it(tmp_path, monkeypatch):
    config = distilled_then(tmp_path, "retry", [
        {"type": "export_onnx", "models": ["student"], "formats": ["fp32"]},
        {"type": "bench", "models": ["student"], "min_seconds": 0.02},
    ], train_subset=300, test_subset=100, distill_epochs=1)
    real = edgekd.export.checked.export_and_check

    def converter_missing(*args, **kwargs):
        raise RuntimeError("the converter is not installed")

    monkeypatch.setattr(edgekd.export.checked, "export_and_check", converter_missing)
    first = run(config)
    assert first.partial_failures == ["export_onnx", "bench"]
    [row] = first.artifacts["export_onnx"].metrics["exports"]
    assert row["status"] == "failed" and "converter is not installed" in row["reason"]

    monkeypatch.setattr(edgekd.export.checked, "export_and_check", real)  # the environment is fixed
    second = run(config)
    reused = {outcome.name: outcome.reused for outcome in second.outcomes}
    assert reused == {"teacher": True, "cache": True, "distill": True, "export_onnx": False, "bench": False}
    assert second.partial_failures == []
    assert second.artifacts["export_onnx"].metrics["exports"][0]["status"] == "ok"
    third = run(config)  # nothing failed now: everything is reused
    assert all(outcome.reused for outcome in third.outcomes)
