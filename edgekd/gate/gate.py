"""`edgekd check`: find the report, compare it with the budgets and baseline, say pass or fail."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from edgekd.errors import ConfigError
from edgekd.gate.budget import load_budgets
from edgekd.gate.check import BudgetResult, check_budgets
from edgekd.gate.report_file import load_report

EXIT_PASS, EXIT_BUDGET_FAILED = 0, 1


@dataclass
class GateOutcome:
    results: list[BudgetResult]
    report_path: Path
    baseline_path: Path | None
    updated_baseline: bool = False

    @property
    def exit_code(self) -> int:
        return EXIT_PASS if all(r.passed for r in self.results) else EXIT_BUDGET_FAILED


def run_gate(budget_path, report_path=None, pipeline_path=None, baseline_path=None, junit_path=None,
             update_baseline=False, console: Console | None = None, overrides: dict | None = None) -> GateOutcome:
    if console is None:
        from edgekd.report.terminal import output_console

        console = output_console()
    budgets = load_budgets(budget_path)
    report_path = _resolve_report(report_path, pipeline_path, console, overrides or {})
    report = load_report(report_path)
    baseline_file = Path(baseline_path) if baseline_path else budgets.baseline_path()
    if update_baseline:
        if baseline_file is None:
            raise ConfigError(f"{budget_path}: no `baseline:` path to write; pass --baseline")
        baseline_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(report_path, baseline_file)
        console.print(f"baseline updated: {baseline_file} (from {report_path})")
    baseline = load_report(baseline_file) if baseline_file and baseline_file.is_file() else None
    results = check_budgets(budgets, report, baseline)
    print_results(results, console)
    if junit_path:
        from edgekd.gate.junit import write_junit

        write_junit(results, junit_path)
    return GateOutcome(results, Path(report_path), baseline_file, update_baseline)


def _resolve_report(report_path, pipeline_path, console, overrides: dict) -> Path:
    if report_path and pipeline_path:
        raise ConfigError("give either --report or --pipeline, not both")
    if overrides and not pipeline_path:
        raise ConfigError("--set overrides the pipeline that --pipeline runs: give --pipeline")
    if report_path:
        return Path(report_path)
    if not pipeline_path:
        raise ConfigError("say which report to check: --report report.json, or --pipeline p.yaml to run one")
    from edgekd.config import load_config
    from edgekd.pipeline import run

    result = run(load_config(pipeline_path, overrides), console)
    report = next((o.artifact for o in reversed(result.outcomes) if o.type == "report"), None)
    if report is None:
        raise ConfigError(f"{pipeline_path}: the pipeline has no `report` stage to check")
    return report.path / "report.json"


def print_results(results: list[BudgetResult], console: Console) -> None:
    """A heading row per file, then one row per budget; the measurement wraps at words, so the table
    fits an 80-column terminal (the compact style of the run summary)."""
    from edgekd.report.terminal import add_fixed_column, compact_table

    table = compact_table("budgets")
    add_fixed_column(table, "budget")
    table.add_column("measured", min_width=len("measured"), ratio=1)
    add_fixed_column(table, "result")
    previous = None
    for r in results:
        name = f"{r.model}/{r.format}"
        if name != previous:
            table.add_row(f"[bold]{name}[/]", "", "")
            previous = name
        table.add_row(f"  {r.limit_name}", r.message, "[green]pass[/]" if r.passed else "[red]FAIL[/]")
    console.print(table)
    failed = [r for r in results if not r.passed]
    if failed:
        for r in failed:
            console.print(f"[red]budget failed[/]: {r.label}: {r.message}")
    else:
        console.print(f"all {len(results)} budgets pass")
