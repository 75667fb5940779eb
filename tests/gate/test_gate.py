import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from edgekd.cli import main


def _report(student_size=60_000, student_acc=0.915, student_ms=0.03, teacher_ms=0.1, agree=0.995):
    def row(model, fmt, acc, ms, size, agreement=1.0):
        return {"model": model, "format": fmt, "target": "litert", "status": "ok", "accuracy": acc,
                "latency_ms_p50": ms, "size_bytes": size, "top1_agreement": agreement}

    return {"schema_version": 1, "pipeline": "q", "rows": [
        row("teacher", "pytorch", 0.926, 0.6, 3_400_000),
        row("teacher", "tflite_int8", 0.926, teacher_ms, 880_000),
        row("student", "tflite_int8", student_acc, student_ms, student_size, agree),
    ]}


BUDGET = """
baseline: baseline.json
budgets:
  - model: student
    format: tflite_int8
    max_size_bytes: 70000
    max_size_growth: 5
    min_accuracy: 0.905
    max_accuracy_drop: 0.5
    max_accuracy_drop_vs_teacher: 2.0
    max_latency_ratio: 1.5
    min_top1_agreement: 0.98
"""


@pytest.fixture
def workspace(tmp_path):
    (tmp_path / "budget.yaml").write_text(BUDGET)
    (tmp_path / "baseline.json").write_text(json.dumps(_report()))
    return tmp_path


def _check(workspace, report, *extra):
    (workspace / "report.json").write_text(json.dumps(report))
    return CliRunner().invoke(main, ["check", str(workspace / "budget.yaml"), "--report",
                                     str(workspace / "report.json"), *extra])


def test_unchanged_report_passes_with_exit_0(workspace):
    result = _check(workspace, _report())
    assert result.exit_code == 0, result.output
    assert "all 7 budgets pass" in result.output


@pytest.mark.parametrize("change, failing", [
    (dict(student_size=80_000), {"max_size_bytes", "max_size_growth"}),
    (dict(student_size=64_000), {"max_size_growth"}),
    (dict(student_acc=0.90), {"min_accuracy", "max_accuracy_drop", "max_accuracy_drop_vs_teacher"}),
    (dict(student_ms=0.06), {"max_latency_ratio"}),
    (dict(student_ms=0.06, teacher_ms=0.2), set()),  # whole machine 2x slower: ratio unchanged
    (dict(agree=0.97), {"min_top1_agreement"}),
])
def test_each_budget_fails_on_its_own_regression(workspace, change, failing):
    result = _check(workspace, _report(**change), "--junit", str(workspace / "junit.xml"))
    assert result.exit_code == (1 if failing else 0), result.output
    suite = ET.parse(workspace / "junit.xml").getroot().find("testsuite")
    failed = {case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None}
    assert failed == failing
    assert suite.get("tests") == "7" and suite.get("failures") == str(len(failing))


def test_size_failure_message_is_clear(workspace):
    result = _check(workspace, _report(student_size=80_000))
    assert "budget failed: student/tflite_int8 max_size_bytes: 80,000 bytes (limit 70,000)" in result.output


def test_failed_export_fails_its_budgets(workspace):
    report = _report()
    report["rows"][2].update(status="failed", reason="ValueError: op not supported", size_bytes=None)
    result = _check(workspace, report)
    assert result.exit_code == 1 and "failed: ValueError: op not supported" in result.output


def test_update_baseline_writes_the_report(workspace):
    result = _check(workspace, _report(student_size=64_000), "--update-baseline")
    assert result.exit_code == 0, result.output
    assert json.loads((workspace / "baseline.json").read_text())["rows"][2]["size_bytes"] == 64_000


def test_missing_baseline_is_a_usage_error(workspace):
    (workspace / "baseline.json").unlink()
    result = _check(workspace, _report())
    assert result.exit_code == 2 and "--update-baseline" in result.output


@pytest.mark.parametrize("budget_text, message", [
    ("budgets:\n  - model: student\n    format: x\n    max_size_byts: 3\n", r"budgets[0].max_size_byts: unknown field"),
    ("budgets:\n  - model: student\n    format: x\n    min_accuracy: 2\n", r"budgets[0].min_accuracy: Input should be less than or equal to 1"),
    ("budgets:\n  - model: student\n    format: x\n", "budgets[0]: no limit set for student/x"),
    ("budgets: [\n", "not valid YAML"),
])
def test_malformed_budget_is_one_line_exit_2(workspace, budget_text, message):
    (workspace / "budget.yaml").write_text(budget_text)
    result = _check(workspace, _report())
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and message in result.output
    assert "budget.yaml" in result.output


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r["rows"][0].pop("size_bytes"), "rows[0].size_bytes: Field required"),
    (lambda r: r.pop("rows"), "rows: Field required"),
    (lambda r: r.update(schema_version=99), "schema_version 99"),
])
def test_malformed_report_names_file_and_field(workspace, mutate, message):
    report = _report()
    mutate(report)
    result = _check(workspace, report)
    assert result.exit_code == 2 and message in result.output and "report.json" in result.output


def test_report_that_is_not_json(workspace):
    (workspace / "report.json").write_text("{nope")
    result = CliRunner().invoke(main, ["check", str(workspace / "budget.yaml"), "--report", str(workspace / "report.json")])
    assert result.exit_code == 2 and "not valid JSON" in result.output


def test_no_report_given_is_a_usage_error(workspace):
    result = CliRunner().invoke(main, ["check", str(workspace / "budget.yaml")])
    assert result.exit_code == 2 and "--report" in result.output


@pytest.mark.parametrize("width", [80, 100])
def test_budget_table_fits_the_terminal(workspace, width, monkeypatch):
    """Every line fits; headers, budget names and verdicts stay whole; a measurement wraps at words."""
    monkeypatch.setenv("COLUMNS", str(width))
    result = _check(workspace, _report(student_size=80_000))
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= width
    table = "\n".join(lines)
    for word in ("budget", "measured", "result", "student/tflite_int8", "max_accuracy_drop_vs_teacher",
                 "min_top1_agreement", "pass", "FAIL", "80,000"):
        assert word in table, word
    assert "budget failed: student/tflite_int8 max_size_bytes" in result.output


def test_overrides_reach_the_pipeline_the_gate_runs(workspace):
    # A bad value fails validation before anything runs, naming the field: the override was applied.
    result = CliRunner().invoke(main, ["check", str(workspace / "budget.yaml"), "--pipeline", "pipelines/quickstart.yaml",
                                       "--set", "stages.2.baseline_seeds=oops"])
    assert result.exit_code == 2 and "baseline_seeds" in result.output


def test_overrides_without_a_pipeline_are_a_usage_error(workspace):
    result = _check(workspace, _report(), "--set", "seed=1")
    assert result.exit_code == 2 and "--pipeline" in result.output
