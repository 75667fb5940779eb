"""`csv`: tabular features and a label column; string labels become ids and class names.

One file with a seeded train/test split, or separate `train` and `test` files. Read with the
standard library's csv module: feature columns must be numeric.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field

from edgekd.data.base import DataConfigBase, RawData
from edgekd.errors import DataError


class CsvConfig(DataConfigBase):
    type: Literal["csv"] = "csv"
    path: Optional[str] = Field(None, description="one CSV, split by `test_fraction` with `split_seed`")
    train: Optional[str] = None
    test: Optional[str] = None
    label: str = Field(description="the label column")
    features: Optional[list[str]] = Field(None, description="feature columns; default: every other column")
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    split_seed: int = 0


def files(config: CsvConfig) -> list[Path]:
    if config.path and (config.train or config.test) or not config.path and not (config.train and config.test):
        raise DataError("data: give `path` (one CSV, split here) or both `train` and `test` (csv source)")
    return [Path(config.path)] if config.path else [Path(config.train), Path(config.test)]


def _read(path: Path, config: CsvConfig):
    import csv

    import numpy as np

    if not path.is_file():
        raise DataError(f"CSV file {path} not found")
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise DataError(f"{path}: no data rows")
    header = list(rows[0])
    if config.label not in header:
        raise DataError(f"{path}: no label column {config.label!r}; columns: {', '.join(header)}")
    features = config.features or [c for c in header if c != config.label]
    absent = [c for c in features if c not in header]
    if absent:
        raise DataError(f"{path}: no feature column {absent[0]!r}; columns: {', '.join(header)}")
    try:
        x = np.array([[float(row[c]) for c in features] for row in rows], dtype=np.float32)
    except ValueError as exc:
        raise DataError(f"{path}: a feature value is not a number ({exc})") from None
    labels = [row[config.label] for row in rows]
    try:
        labels = np.array([int(v) for v in labels])
    except ValueError:
        labels = np.array(labels)
    return x, labels


def load(config: CsvConfig) -> RawData:
    from edgekd.data.base import label_ids, seeded_split

    paths = files(config)
    if config.path:
        x, y = _read(paths[0], config)
        train, test = seeded_split(len(y), config.test_fraction, config.split_seed)
        train_x, train_y, test_x, test_y = x[train], y[train], x[test], y[test]
    else:
        (train_x, train_y), (test_x, test_y) = _read(paths[0], config), _read(paths[1], config)
        if train_x.shape[1] != test_x.shape[1]:
            raise DataError(f"{paths[0]} has {train_x.shape[1]} features, {paths[1]} has {test_x.shape[1]}")
    train_y, test_y, classes = label_ids(train_y, test_y, str(paths[0]))
    return RawData(train_x, train_y, test_x, test_y, "NC", config.class_names or classes, files=paths,
                   description="csv features")
