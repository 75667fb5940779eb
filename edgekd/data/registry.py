"""Data-source registry: `data.type` -> (config class, module with `load`).

A new source is one file with a `Config` class and `load(config[, cache_dir]) -> RawData` plus one
line here; the contract tests are parametrized over this mapping.
"""

from __future__ import annotations

from edgekd.data.arrays import ArraysConfig
from edgekd.data.csv_table import CsvConfig
from edgekd.data.idx import IdxConfig
from edgekd.data.image_folder import ImageFolderConfig
from edgekd.data.text_table import JsonlConfig, TextCsvConfig
from edgekd.data.tokens import TokensConfig

DATA_SOURCES = {
    "idx": (IdxConfig, "edgekd.data.idx"),
    "arrays": (ArraysConfig, "edgekd.data.arrays"),
    "csv": (CsvConfig, "edgekd.data.csv_table"),
    "image_folder": (ImageFolderConfig, "edgekd.data.image_folder"),
    "text_csv": (TextCsvConfig, "edgekd.data.text_table"),
    "jsonl": (JsonlConfig, "edgekd.data.text_table"),
    "tokens": (TokensConfig, "edgekd.data.tokens"),
}


def data_config_adapter():
    """A validator for any registered data config, chosen by its `type` field."""
    from typing import Annotated, Union

    from pydantic import Field, TypeAdapter

    configs = tuple(config for config, _ in DATA_SOURCES.values())
    return TypeAdapter(Annotated[Union[configs], Field(discriminator="type")])


def parse_data_config(raw):
    """Validate a `data:` mapping. `dataset: fashion_mnist` (the old form) means `type: idx`."""
    if raw is None:
        raw = {}
    if hasattr(raw, "type") and not isinstance(raw, dict):
        return raw
    raw = dict(raw)
    if raw.get("dataset") == "fashion_mnist" and "type" not in raw:
        raw.pop("dataset")
        raw["type"] = "idx"
    raw.setdefault("type", "idx")
    return data_config_adapter().validate_python(raw)
