"""The terminal summary printed after a run: the stages, then the report's tables."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from edgekd.report.terminal import add_fixed_column, compact_table, output_console


def print_summary(result, console: Console | None = None) -> None:
    """`console` defaults to stdout sized for the reader (see `output_console`); one passed in is used as is."""
    console = console or output_console()
    table = compact_table(f"pipeline {result.config.name} (artifacts in {result.config.artifacts_dir}/)")
    for column in ("stage", "type", "status"):
        add_fixed_column(table, column)
    add_fixed_column(table, "seconds", justify="right")
    # `<stage>-<16 hex>` folder names: the one column allowed to fold when the terminal is narrow
    table.add_column("artifact", overflow="fold", min_width=len("artifact"))
    for outcome in result.outcomes:
        status = "reused" if outcome.reused else "ran"
        table.add_row(Text(outcome.name), Text(outcome.type), status, f"{outcome.seconds:.1f}",
                      Text(outcome.artifact.path.name))
    console.print(table)
    report = next((o.artifact for o in reversed(result.outcomes) if o.type == "report"), None)
    if report is not None:
        from edgekd.report.render import print_report_table

        print_report_table(report.path, console)
        # soft_wrap: a path is never folded mid-name, so it can be copied whole from any terminal.
        console.print(f"report: {report.path / 'report.md'}", soft_wrap=True)
