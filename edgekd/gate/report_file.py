"""Read a `report.json` and check it has what the gate needs, naming the file and field when not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict, ValidationError

from edgekd.errors import EdgeKDError
from edgekd.report.rows import SCHEMA_VERSION


class ReportError(EdgeKDError):
    """A report file is missing, not JSON, or lacks a field the gate reads."""


class ReportRow(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str
    format: str
    target: Optional[str]
    status: str
    reason: Optional[str] = None
    accuracy: Optional[float]
    latency_ms_p50: Optional[float]
    size_bytes: Optional[int]
    top1_agreement: Optional[float]


class Report(BaseModel):
    model_config = ConfigDict(extra="allow")

    schema_version: int
    pipeline: str
    rows: list[ReportRow]

    def row(self, model: str, fmt: str) -> ReportRow | None:
        """The row budgets are about: the model and format on this machine (not an emulated target), at
        batch 1 (older reports have no batch field: they measured batch 1)."""
        return next((r for r in self.rows if r.model == model and r.format == fmt
                     and not (r.target or "").startswith("qemu-") and getattr(r, "batch_size", None) in (None, 1)),
                    None)


def load_report(path: str | Path) -> Report:
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except OSError as exc:
        raise ReportError(f"{path}: cannot read report ({exc.strerror or exc})") from exc
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    try:
        report = Report.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p))
                        for i, p in enumerate(error["loc"]))
        raise ReportError(f"{path}: {field or '<top>'}: {error['msg']}") from None
    if report.schema_version != SCHEMA_VERSION:
        raise ReportError(f"{path}: schema_version {report.schema_version}, this edgekd reads {SCHEMA_VERSION}")
    return report
