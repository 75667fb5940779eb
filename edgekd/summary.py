"""The terminal summary printed after a run."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def print_summary(result, console: Console | None = None) -> None:
    console = console or Console()
    if not console.is_terminal:  # logs and CI: don't wrap tables at 80 columns
        console = Console(width=200)
    table = Table(title=f"pipeline {result.config.name} (artifacts in {result.config.artifacts_dir}/)")
    for column in ("stage", "type", "status", "seconds", "artifact"):
        table.add_column(column)
    for outcome in result.outcomes:
        status = "reused" if outcome.reused else "ran"
        table.add_row(outcome.name, outcome.type, status, f"{outcome.seconds:.1f}", outcome.artifact.path.name)
    console.print(table)
    report = next((o.artifact for o in reversed(result.outcomes) if o.type == "report"), None)
    if report is not None:
        from edgekd.report.render import print_report_table

        print_report_table(report.path, console)
        console.print(f"report: {report.path / 'report.md'}")
