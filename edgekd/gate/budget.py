"""The budget file: per model and format, the limits a change must stay within.

    baseline: ../baselines/quickstart.report.json   # relative to this file
    latency_reference: {model: teacher}       # default: the teacher in the same format
    budgets:
      - model: student
        format: tflite_int8
        max_size_bytes: 81920
        max_size_growth: 10            # percent vs the baseline
        min_accuracy: 0.90
        max_accuracy_drop: 0.5         # points vs the baseline
        max_accuracy_drop_vs_teacher: 2.0
        max_latency_ratio: 1.5         # vs the baseline, both relative to latency_reference
        min_top1_agreement: 0.98       # export parity
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveFloat, PositiveInt, ValidationError

from edgekd.config import describe_validation_error
from edgekd.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RowRef(_Strict):
    """A report row; `format: null` means the same format as the budget line it serves."""

    model: str
    format: Optional[str] = None

    def resolve(self, fmt: str) -> tuple[str, str]:
        return self.model, self.format or fmt


class Budget(_Strict):
    model: str
    format: str
    max_size_bytes: Optional[PositiveInt] = None
    max_size_growth: Optional[float] = Field(None, description="percent vs baseline")
    min_accuracy: Optional[float] = Field(None, ge=0.0, le=1.0)
    max_accuracy_drop: Optional[NonNegativeFloat] = Field(None, description="points vs baseline")
    max_accuracy_drop_vs_teacher: Optional[NonNegativeFloat] = Field(None, description="points")
    max_latency_ratio: Optional[PositiveFloat] = None
    min_top1_agreement: Optional[float] = Field(None, ge=0.0, le=1.0)

    def limits(self) -> dict[str, float]:
        return {k: v for k, v in self.model_dump(exclude={"model", "format"}).items() if v is not None}


class BudgetFile(_Strict):
    baseline: Optional[str] = None
    latency_reference: RowRef = RowRef(model="teacher")
    teacher_reference: RowRef = RowRef(model="teacher", format="pytorch")
    budgets: list[Budget] = Field(min_length=1)
    source: Optional[Path] = Field(default=None, exclude=True)

    def baseline_path(self) -> Path | None:
        if self.baseline is None:
            return None
        path = Path(self.baseline)
        return path if path.is_absolute() or self.source is None else self.source.parent / path


def load_budgets(path: str | Path) -> BudgetFile:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read budget file ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with a `budgets` list")
    try:
        budgets = BudgetFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_validation_error(exc, raw)}") from None
    for index, budget in enumerate(budgets.budgets):
        if not budget.limits():
            raise ConfigError(f"{path}: budgets[{index}]: no limit set for {budget.model}/{budget.format}")
    budgets.source = path
    return budgets
