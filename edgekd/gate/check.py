"""Evaluate every budget line against a fresh report (and the baseline), one result per limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from edgekd.errors import ConfigError
from edgekd.gate.budget import Budget, BudgetFile
from edgekd.gate.report_file import Report, ReportRow

NEEDS_BASELINE = {"max_size_growth", "max_accuracy_drop", "max_latency_ratio"}


@dataclass
class BudgetResult:
    model: str
    format: str
    limit_name: str
    limit: float
    measured: Optional[float]
    passed: bool
    message: str

    @property
    def label(self) -> str:
        return f"{self.model}/{self.format} {self.limit_name}"


def check_budgets(budgets: BudgetFile, report: Report, baseline: Report | None) -> list[BudgetResult]:
    if baseline is None and any(NEEDS_BASELINE & b.limits().keys() for b in budgets.budgets):
        where = budgets.baseline_path() or "(none set: `baseline:` in the budget file or --baseline)"
        raise ConfigError(f"budgets compare with a baseline, but {where} does not exist; "
                          "write one with `edgekd check --update-baseline`")
    results = []
    for budget in budgets.budgets:
        row = report.row(budget.model, budget.format)
        for name, limit in budget.limits().items():
            results.append(_evaluate(name, limit, budget, row, report, baseline, budgets))
    return results


def _evaluate(name, limit, budget: Budget, row: ReportRow | None, report, baseline, budgets) -> BudgetResult:
    def result(measured, passed, message):
        return BudgetResult(budget.model, budget.format, name, limit, measured, passed, message)

    if row is None:
        return result(None, False, f"no {budget.model}/{budget.format} row in the report")
    if row.status != "ok":
        return result(None, False, f"{budget.model}/{budget.format} failed: {row.reason or 'no reason given'}")
    try:
        measured, passed, message = MEASURES[name](limit, row, report, baseline, budgets)
    except _Missing as missing:
        return result(None, False, str(missing))
    return result(measured, passed, message)


class _Missing(Exception):
    """A value the limit needs is absent (no baseline row, no teacher row, a null field)."""


def _field(row: ReportRow | None, field: str, what: str) -> float:
    value = getattr(row, field, None) if row is not None else None
    if value is None:
        raise _Missing(f"no {field} for {what}")
    return value


def _baseline_row(baseline: Report, row: ReportRow) -> ReportRow:
    found = baseline.row(row.model, row.format)
    if found is None or found.status != "ok":
        raise _Missing(f"the baseline has no working {row.model}/{row.format} row")
    return found


def _max_size_bytes(limit, row, report, baseline, budgets):
    size = _field(row, "size_bytes", "this row")
    return size, size <= limit, f"{size:,} bytes (limit {int(limit):,})"


def _max_size_growth(limit, row, report, baseline, budgets):
    old = _field(_baseline_row(baseline, row), "size_bytes", "the baseline")
    growth = 100.0 * (_field(row, "size_bytes", "this row") - old) / old
    return growth, growth <= limit, f"{growth:+.1f} % vs baseline {old:,} bytes (limit {limit:+.1f} %)"


def _min_accuracy(limit, row, report, baseline, budgets):
    acc = _field(row, "accuracy", "this row")
    return acc, acc >= limit, f"{100 * acc:.2f} % (limit ≥ {100 * limit:.2f} %)"


def _max_accuracy_drop(limit, row, report, baseline, budgets):
    old = _field(_baseline_row(baseline, row), "accuracy", "the baseline")
    drop = 100.0 * (old - _field(row, "accuracy", "this row"))
    return drop, drop <= limit, f"{drop:+.2f} pt below baseline {100 * old:.2f} % (limit {limit:.2f} pt)"


def _max_accuracy_drop_vs_teacher(limit, row, report, baseline, budgets):
    ref_model, ref_format = budgets.teacher_reference.resolve(row.format)
    what = f"{ref_model}/{ref_format}"
    teacher = _field(report.row(ref_model, ref_format), "accuracy", what)
    drop = 100.0 * (teacher - _field(row, "accuracy", "this row"))
    return drop, drop <= limit, f"{drop:+.2f} pt below {what} {100 * teacher:.2f} % (limit {limit:.2f} pt)"


def _max_latency_ratio(limit, row, report, baseline, budgets):
    """Latency relative to a reference model measured in the same run, now vs in the baseline run.

    Both runs time the reference too, so a slower or busier machine moves both numbers and cancels
    out; only the model's own change in speed remains.
    """
    ref_model, ref_format = budgets.latency_reference.resolve(row.format)
    what = f"{ref_model}/{ref_format}"
    now = _field(row, "latency_ms_p50", "this row") / _field(
        report.row(ref_model, ref_format), "latency_ms_p50", what)
    then = _field(_baseline_row(baseline, row), "latency_ms_p50", "the baseline") / _field(
        baseline.row(ref_model, ref_format), "latency_ms_p50", f"{what} in the baseline")
    ratio = now / then
    return ratio, ratio <= limit, f"{ratio:.2f}× the baseline, relative to {what} (limit {limit:.2f}×)"


def _min_top1_agreement(limit, row, report, baseline, budgets):
    agree = _field(row, "top1_agreement", "this row")
    return agree, agree >= limit, f"{100 * agree:.2f} % top-1 agreement (limit ≥ {100 * limit:.2f} %)"


MEASURES: dict[str, Callable] = {
    "max_size_bytes": _max_size_bytes,
    "max_size_growth": _max_size_growth,
    "min_accuracy": _min_accuracy,
    "max_accuracy_drop": _max_accuracy_drop,
    "max_accuracy_drop_vs_teacher": _max_accuracy_drop_vs_teacher,
    "max_latency_ratio": _max_latency_ratio,
    "min_top1_agreement": _min_top1_agreement,
}
