"""Run a reduced quickstart (real Fashion-MNIST subset, 1 epoch) through every stage, twice."""

import json
from pathlib import Path

import pytest
import yaml

from edgekd.config import parse_config
from edgekd.pipeline import run
from tests.int8_cpu import xfail_without_vnni

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def reduced_run(tmp_path_factory):
    raw = yaml.safe_load(Path("pipelines/quickstart.yaml").read_text())
    raw["artifacts_dir"] = str(tmp_path_factory.mktemp("artifacts"))
    raw["data"].update(train_subset=3000, test_subset=500)
    for stage in raw["stages"]:
        if stage["type"] == "distill":
            stage["train"]["epochs"] = 1
            stage["baseline_seeds"] = [0, 1]
        if stage["type"] == "ptq":
            stage["calibration_samples"] = 128
        if stage["type"] == "bench":
            stage["min_seconds"] = 0.05
            stage.update(emulated_cpus=["cortex-a53"], emulated_samples=4, emulated_runs=2)
    config = parse_config(raw, source="reduced quickstart")
    first = run(config)
    second = run(config)
    return config, first, second


def test_every_stage_ran_then_was_reused(reduced_run):
    config, first, second = reduced_run
    assert [o.type for o in first.outcomes] == [s.type for s in config.stages]
    assert not any(o.reused for o in first.outcomes)
    assert second.all_reused
    assert [o.artifact.id for o in first.outcomes] == [o.artifact.id for o in second.outcomes]


def test_report_rows_and_parity(reduced_run):
    _, first, _ = reduced_run
    report_dir = first.artifacts["report"].path
    report = json.loads((report_dir / "report.json").read_text())
    assert (report_dir / "report.md").read_text().startswith("# edgekd report")
    rows = {(r["model"], r["format"]): r for r in report["rows"] if r["target"] in ("torch-cpu", "ort-cpu", "litert")}
    for model in ("teacher", "student"):
        for fmt in ("pytorch", "onnx_fp32", "onnx_int8", "tflite_fp32", "tflite_fp16", "tflite_int8"):
            row = rows[(model, fmt)]
            assert row["status"] == "ok", row
            assert 0 <= row["accuracy"] <= 1 and row["latency_ms_p50"] > 0 and row["size_bytes"] > 0
        for fmt in ("onnx_fp32", "tflite_fp32"):
            assert rows[(model, fmt)]["parity_max_abs"] <= 1e-4
        for fmt in ("onnx_int8", "tflite_int8"):
            assert rows[(model, fmt)]["top1_agreement"] >= 0.95
            assert rows[(model, fmt)]["fp32_top1_agreement"] >= 0.9
    assert report["kd_vs_ce"]["kd"]["seeds"] == [0, 1]
    student, teacher = rows[("student", "onnx_fp32")], rows[("teacher", "onnx_fp32")]
    assert teacher["size_bytes"] / student["size_bytes"] >= 8
    assert rows[("student", "tflite_int8")]["size_bytes"] < rows[("student", "tflite_fp32")]["size_bytes"] / 3
    timed = [r for r in report["rows"] if r["status"] == "ok" and not r["target"].startswith("qemu-")]
    assert all(r["latency_ms_p50"] <= r["latency_ms_p90"] for r in timed)
    assert all(r["runs"] >= 200 for r in timed)


def test_cuda_rows_say_why_they_are_absent(reduced_run):
    import onnxruntime as ort

    _, first, _ = reduced_run
    report = json.loads((first.artifacts["report"].path / "report.json").read_text())
    cuda = [r for r in report["rows"] if r["target"] == "ort-cuda"]
    assert {(r["model"], r["format"]) for r in cuda} == {(m, f) for m in ("teacher", "student")
                                                          for f in ("onnx_fp32", "onnx_int8")}
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        assert all(r["status"] == "skipped" and "CUDAExecutionProvider is not in" in r["reason"] for r in cuda)
    else:
        assert all(r["status"] == "ok" and r["latency_ms_p50"] > 0 for r in cuda)
    assert first.artifacts["report"].metrics["failures"] == []


@xfail_without_vnni
def test_emulated_aarch64_rows(reduced_run):
    from edgekd.runtimes.qemu_aarch64 import EmulatorUnavailable, check_available

    _, first, _ = reduced_run
    report = json.loads((first.artifacts["report"].path / "report.json").read_text())
    emulated = [r for r in report["rows"] if r["target"] == "qemu-aarch64-cortex-a53"]
    formats = ("pytorch", "onnx_fp32", "onnx_int8", "tflite_fp32", "tflite_fp16", "tflite_int8")
    assert {(r["model"], r["format"]) for r in emulated} == {(m, f) for m in ("teacher", "student") for f in formats}
    try:
        check_available()
    except EmulatorUnavailable:
        assert all(r["status"] == "skipped" and "make arm-setup" in r["reason"] for r in emulated)
        return
    for row in emulated:
        assert row["status"] == "ok", row
        assert row["instructions_per_inference"] > 100_000 and row["latency_ms_p50"] is None
        assert row["parity_max_abs"] <= (1e-4 if row["format"].endswith(("fp32", "pytorch")) else 0.5)
    by_format = {(r["model"], r["format"]): r for r in emulated}
    assert by_format[("teacher", "onnx_fp32")]["instructions_per_inference"] > \
        4 * by_format[("student", "onnx_fp32")]["instructions_per_inference"]


def test_int8_onnx_runs_integer_kernels(reduced_run):
    _, first, _ = reduced_run
    exports = first.artifacts["export_onnx"].metrics["exports"]
    int8 = [e for e in exports if e["format"] == "onnx_int8"]
    assert int8 and all(e["integer_ops"] and not e["float_compute_ops"] for e in int8)


GATE_BUDGET = """
baseline: baseline.json
budgets:
  - model: student
    format: tflite_int8
    max_size_growth: 10
    min_top1_agreement: 0.9
"""


def test_ci_gate_passes_unchanged_and_fails_a_grown_student(reduced_run, tmp_path):
    """The project's own gate: doubling the student's width must fail the size budget."""
    from click.testing import CliRunner

    from edgekd.cli import main

    config, first, _ = reduced_run
    (tmp_path / "budget.yaml").write_text(GATE_BUDGET)
    report = first.artifacts["report"].path / "report.json"
    runner = CliRunner()
    made = runner.invoke(main, ["check", str(tmp_path / "budget.yaml"), "--report", str(report), "--update-baseline"])
    assert made.exit_code == 0, made.output

    raw = config.model_dump(mode="json")
    distill = next(s for s in raw["stages"] if s["type"] == "distill")
    distill.update(width=32, baseline_seeds=[])  # the default student is width 16
    bench = next(s for s in raw["stages"] if s["type"] == "bench")
    bench.update(emulated_cpus=[], extra_providers=[])  # the budget reads x86 rows only
    for stage in raw["stages"]:  # ...and the student's only: the teacher is not quantised, exported or timed again
        if stage["type"] in ("ptq", "export_onnx", "export_tflite", "bench"):
            stage["models"] = ["student"]
    grown = run(parse_config(raw, source="grown student"))
    grown_report = grown.artifacts["report"].path / "report.json"
    result = runner.invoke(main, ["check", str(tmp_path / "budget.yaml"), "--report", str(grown_report),
                                  "--junit", str(tmp_path / "junit.xml")])
    assert result.exit_code == 1, result.output
    assert "budget failed: student/tflite_int8 max_size_growth" in result.output
    assert 'name="max_size_growth"' in (tmp_path / "junit.xml").read_text()
