"""The report in a terminal: tables that fit 80 to 100 columns.

report.md has every column and every reason; the terminal gets the essentials. Emulated Arm rows
(instructions, not milliseconds) get their own small table, and the reasons of failed and skipped
rows become numbered notes under the tables, each at most two lines, so that no cell has to hold
a 300-character exception and fold every other column into slivers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from edgekd.report.render import COLUMNS, cell

EMULATED_PREFIX = "qemu-aarch64-"
# Without a terminal (logs, CI) nothing tells us the reader's width: 100 reads well in most viewers.
DEFAULT_WIDTH = 100
SEE_REPORT = "  (see report.md)"
# A reason gets two lines: enough for the whole CUDA-provider message, and a long traceback
# message stays a glance, not a screenful.
NOTE_LINES = 2

# The main table: what tells teacher and student apart at a glance. p90/p99, parity, cold start
# and the rest stay in report.md.
MAIN_KEYS = ("model", "format", "target", "batch_size", "accuracy", "latency_ms_p50",
             "speedup_vs_teacher", "size_bytes")
ALWAYS_SHOWN = ("model", "format", "target")
STATUS_STYLES = {"skipped": "yellow", "failed": "red"}
HEADERS = {key: (header, fmt) for key, header, fmt in COLUMNS}


def output_console() -> Console:
    """A console on stdout: a terminal's own width; otherwise COLUMNS if set, else DEFAULT_WIDTH."""
    console = Console()
    if not console.is_terminal:
        columns = os.environ.get("COLUMNS", "")
        console.width = int(columns) if columns.isdigit() and int(columns) > 0 else DEFAULT_WIDTH
    return console


def compact_table(title: str, caption: str | None = None) -> Table:
    """A table with no vertical rules and two spaces between columns: a boxed table spends three
    characters a column on borders and padding, which an 80-column terminal cannot afford."""
    return Table(title=title, caption=caption, box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0), pad_edge=False,
                 show_edge=False, caption_justify="left")


def add_fixed_column(table: Table, header: str, justify: str = "left") -> None:
    """A column whose values are never wrapped or folded (`tflite_int8`, `236.0 KB`)."""
    table.add_column(header, no_wrap=True, min_width=len(header), justify=justify)


class ReasonNotes:
    """The reasons of failed and skipped rows, numbered once each: the CUDA provider's reason is the
    same for every ONNX file, and the emulator's for every emulated row."""

    def __init__(self) -> None:
        self.notes: list[tuple[str, str]] = []

    def status(self, row: dict[str, Any]) -> Text:
        """`ok`, or `failed [2]` pointing at note 2."""
        if row["status"] == "ok":
            return Text("ok")
        note = (row["status"], " ".join(str(row.get("reason") or "unknown").split()))
        if note not in self.notes:
            self.notes.append(note)
        return Text(f"{row['status']} [{self.notes.index(note) + 1}]", style=STATUS_STYLES.get(row["status"], ""))

    def print(self, console: Console) -> None:
        for number, (status, reason) in enumerate(self.notes, start=1):
            label = f"[{number}] "
            lines = wrapped(f"{status}: {reason}", console, console.width - len(label))
            for prefix, line in zip([label] + [" " * len(label)] * len(lines), lines):
                console.print(Text(prefix) + line, style=STATUS_STYLES.get(status, ""), no_wrap=True,
                              crop=False, highlight=False)


def wrapped(text: str, console: Console, width: int) -> list[Text]:
    """`text` in at most NOTE_LINES lines of `width`; a longer one is cut with `…` and a pointer to
    report.md, which has all of it."""
    lines = list(Text(text).wrap(console, max(width, len(SEE_REPORT) + 2)))
    for line in lines:
        line.rstrip()  # wrapping leaves the space it broke at
    if len(lines) <= NOTE_LINES:
        return lines
    last = lines[NOTE_LINES - 1]
    room = max(width - len("…" + SEE_REPORT), 1)
    if last.cell_len > room:
        last.truncate(room)
        last.rstrip()
    return lines[:NOTE_LINES - 1] + [last + "…" + SEE_REPORT]


def print_report_table(folder: Path, console: Console | None = None) -> None:
    """The tables of the report.json in `folder` (a pipeline's report stage or `edgekd bench --out`)."""
    print_report(json.loads((folder / "report.json").read_text()), console or output_console())


def print_report(report: dict[str, Any], console: Console) -> None:
    notes = ReasonNotes()
    rows = report["rows"]
    native = [row for row in rows if not str(row.get("target") or "").startswith(EMULATED_PREFIX)]
    emulated = [row for row in rows if str(row.get("target") or "").startswith(EMULATED_PREFIX)]
    if native:
        console.print(main_table(report["pipeline"], native, notes))
    if emulated and not any(row["status"] == "ok" for row in emulated) and len(
            {(row["status"], row.get("reason")) for row in emulated}) == 1:
        # typically no `make arm-setup` yet: one line, not a table of identical `skipped [n]` cells
        cores = ", ".join(dict.fromkeys(core_label(row["target"].removeprefix(EMULATED_PREFIX)) for row in emulated))
        console.print(Text(f"emulated Arm cores ({cores}): every file ") + notes.status(emulated[0]))
    elif emulated:
        console.print(emulated_table(emulated, notes))
    notes.print(console)
    kd = report.get("kd_vs_ce")
    if kd and "ce" in kd:
        console.print(f"KD vs CE-only (mean over seeds {kd['kd']['seeds']}): "
                      f"KD {100 * kd['kd']['mean']:.2f} % vs CE {100 * kd['ce']['mean']:.2f} %")


def main_table(pipeline: str, rows: list[dict[str, Any]], notes: ReasonNotes) -> Table:
    keys = [key for key in MAIN_KEYS if key in ALWAYS_SHOWN or any(row.get(key) is not None for row in rows)]
    if len({row.get("batch_size") for row in rows if row.get("batch_size") is not None}) < 2:
        keys = [key for key in keys if key != "batch_size"]  # one batch size: the column says nothing
    table = compact_table(f"teacher vs student: {pipeline}")
    for key in keys:
        header = HEADERS[key][0]
        if key == "model":  # the one free-form column (file names under `edgekd bench`): it may fold
            table.add_column(header, overflow="fold", min_width=len(header))
        else:
            add_fixed_column(table, header, justify="left" if key in ALWAYS_SHOWN else "right")
    add_fixed_column(table, "status")
    for row in rows:
        table.add_row(*(Text(cell(row.get(key), HEADERS[key][1])) for key in keys), notes.status(row))
    return table


def emulated_table(rows: list[dict[str, Any]], notes: ReasonNotes) -> Table:
    """One line per model file, one instructions column per emulated core."""
    cpus = list(dict.fromkeys(row["target"].removeprefix(EMULATED_PREFIX) for row in rows))
    files = rows_by_file(rows)
    table = compact_table(
        "emulated Arm cores (QEMU aarch64)",
        caption="insns: AArch64 instructions per inference (median, 1 thread); vs teacher: teacher's insns "
                "÷ this file's; parity: max |logit Δ| vs x86 on the same file")
    table.add_column("model", overflow="fold", min_width=len("model"))
    add_fixed_column(table, "format")
    for cpu in cpus:
        add_fixed_column(table, f"{core_label(cpu)} insns", justify="right")
    ok_rows = [[row for row in by_cpu.values() if row["status"] == "ok"] for _, by_cpu in files]
    summaries = [("vs teacher", [ratio_cell(ok) for ok in ok_rows]), ("parity", [parity_cell(ok) for ok in ok_rows])]
    summaries = [(header, cells) for header, cells in summaries if any(c != "—" for c in cells)]
    for header, _ in summaries:
        add_fixed_column(table, header, justify="right")
    for i, ((model, fmt), by_cpu) in enumerate(files):
        table.add_row(Text(model), Text(fmt), *(instructions_cell(by_cpu.get(cpu), notes) for cpu in cpus),
                      *(Text(cells[i]) for _, cells in summaries))
    return table


def rows_by_file(rows: list[dict[str, Any]]) -> list[tuple[tuple[str, str], dict[str, dict[str, Any]]]]:
    """The emulated rows of each model file, by core. Two files can share a name and format (`a/m.onnx`
    and `b/m.onnx` under `edgekd bench`): a core seen twice for one name starts a new file."""
    files: list[tuple[tuple[str, str], dict[str, dict[str, Any]]]] = []
    for row in rows:
        key, cpu = (row["model"], row["format"]), row["target"].removeprefix(EMULATED_PREFIX)
        by_cpu = next((found for name, found in files if name == key and cpu not in found), None)
        if by_cpu is None:
            by_cpu = {}
            files.append((key, by_cpu))
        by_cpu[cpu] = row
    return files


def core_label(cpu: str) -> str:
    """`cortex-a53` -> `A53`: the header has to stay short."""
    return cpu.removeprefix("cortex-").upper() if cpu.startswith("cortex-") else cpu


def instructions_cell(row: dict[str, Any] | None, notes: ReasonNotes) -> Text:
    if row is None:
        return Text("—")
    if row["status"] != "ok":
        return notes.status(row)
    return Text(cell(row.get("instructions_per_inference"), "{:,}"))


def ratio_cell(ok_rows: list[dict[str, Any]]) -> str:
    """The teacher's instructions over this file's; one figure per core only when the cores disagree."""
    ratios = [cell(row["instruction_ratio_vs_teacher"], "{:.1f}×") for row in ok_rows
              if row.get("instruction_ratio_vs_teacher") is not None]
    return " / ".join(dict.fromkeys(ratios)) or "—"


def parity_cell(ok_rows: list[dict[str, Any]]) -> str:
    """The worst core's max |logit Δ|, and its top-1 agreement when that is not 100 %."""
    diffs = [row["parity_max_abs"] for row in ok_rows if row.get("parity_max_abs") is not None]
    if not diffs:
        return "—"
    agreements = [row["top1_agreement"] for row in ok_rows if row.get("top1_agreement") is not None]
    worst = f"{max(diffs):.1e}"
    if agreements and min(agreements) < 1:
        worst += f", top-1 {100 * min(agreements):.1f} %"
    return worst
