"""`text_csv` and `jsonl`: a text column and a label column, tokenised once into token-id rows.

The file may be compressed (`.gz`, `.bz2`, `.xz`). Rows with empty text are counted and dropped; texts
longer than `max_length` tokens are truncated and counted; both counts are reported. `classes` keeps
only rows with those labels, in that order (e.g. `[fresh, rotten]`). Tokenised arrays are cached under
the data cache, keyed by the file's bytes, the tokenizer's files and these settings.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, PositiveInt, field_validator

from edgekd.data.base import DataConfigBase, RawData
from edgekd.errors import DataError

TOKENS_LAYOUT = "NL"  # rows of token ids; the attention mask is ids != pad id
# In every cache key: change how rows are read, split or tokenised and this must change.
ALGORITHM = "text-v1: csv/jsonl rows, empty dropped, shuffled seeded split, tokenizer(truncation, max_length pad)"


class TextTableConfig(DataConfigBase):
    path: Optional[str] = Field(None, description="one file (or pkg://package/file), split by `test_fraction`")
    train: Optional[str] = None
    test: Optional[str] = None
    text: str = Field("text", description="the text column / key")
    label: Optional[str] = Field("label", description="the label column / key; null: unlabeled sentences "
                                 "(embedding distillation)")
    classes: Optional[list[str]] = Field(None, description="keep only rows with these labels, in this order")
    tokenizer: str = Field(description="a Hugging Face folder with the tokenizer files (hf: teachers' own)")
    max_length: PositiveInt = Field(64, description="tokens per sample, special tokens included")
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    split_seed: int = 0
    mean: None = None  # token ids are not standardised
    std: None = None

    @field_validator("mean", "std", mode="before")
    @classmethod
    def _no_statistics(cls, value):
        if value not in (None, "auto"):
            raise ValueError("token ids are not standardised; remove mean/std from a text source")
        return None


class TextCsvConfig(TextTableConfig):
    type: Literal["text_csv"] = "text_csv"


class JsonlConfig(TextTableConfig):
    type: Literal["jsonl"] = "jsonl"


def files(config: TextTableConfig) -> list[Path]:
    if config.path and (config.train or config.test) or not config.path and not (config.train and config.test):
        raise DataError(f"data: give `path` (one file, split here) or both `train` and `test` ({config.type} source)")
    from edgekd.package_paths import resolve

    paths = [resolve(config.path)] if config.path else [resolve(config.train), resolve(config.test)]
    for path in paths:
        if not path.is_file():
            raise DataError(f"text file {path} not found")
    return paths


def _open(path: Path):
    import bz2
    import gzip
    import lzma

    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(path.suffix, open)
    return opener(path, "rt", encoding="utf-8", newline="")


def read_rows(path: Path, config: TextTableConfig) -> tuple[list[str], list[str], int]:
    """(texts, labels, empty texts dropped) of one file."""
    import csv

    with _open(path) as handle:
        if config.type == "jsonl":
            try:
                rows = [json.loads(line) for line in handle if line.strip()]
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}: not JSON lines ({exc})") from None
        else:
            rows = list(csv.DictReader(handle))
    if not rows:
        raise DataError(f"{path}: no data rows")
    for key, what in ((config.text, "text"), (config.label, "label")):
        if key is not None and key not in rows[0]:
            raise DataError(f"{path}: no {what} column {key!r}; columns: {', '.join(map(str, rows[0]))}")
    kept = [row for row in rows if str(row.get(config.text) or "").strip()]
    if not kept:
        raise DataError(f"{path}: every row's {config.text!r} is empty")
    labels = [str(row[config.label]) if config.label else "" for row in kept]
    return [str(row[config.text]) for row in kept], labels, len(rows) - len(kept)


def _keep_classes(texts, labels, classes, where: str):
    if classes is None:
        return texts, labels
    unknown = [c for c in classes if c not in set(labels)]
    if unknown:
        raise DataError(f"{where}: class {unknown[0]!r} has no rows; labels present: {', '.join(sorted(set(labels)))}")
    keep = [i for i, label in enumerate(labels) if label in classes]
    return [texts[i] for i in keep], [labels[i] for i in keep]


def cache_key(config: TextTableConfig, paths: list[Path]) -> str:
    from edgekd.artifacts import file_digest
    from edgekd.text.tokenizer import tokenizer_digest

    settings = config.model_dump(mode="json", exclude={"path", "train", "test", "tokenizer",
                                                       "train_subset", "test_subset"})
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    digest.update(ALGORITHM.encode())
    for path in paths:
        digest.update(file_digest(path).encode())
    digest.update(tokenizer_digest(config.tokenizer).encode())
    return digest.hexdigest()[:16]


def _tokenise(config: TextTableConfig, paths: list[Path]) -> dict:
    """Token ids, labels, counts and the vocabulary of every split, read and tokenised once."""
    import numpy as np

    from edgekd.data.base import seeded_split
    from edgekd.quiet import transformers_quiet
    from edgekd.text.tokenizer import encode, load_tokenizer

    tokenizer = load_tokenizer(config.tokenizer)
    splits, dropped = [], 0
    for path in paths:
        texts, labels, empty = read_rows(path, config)
        splits.append(_keep_classes(texts, labels, config.classes, str(path)))
        dropped += empty
    if config.path:
        texts, labels = splits[0]
        # Shuffled, not file order: corpora are often sorted by label, and a subset must mix them.
        train, test = seeded_split(len(labels), config.test_fraction, config.split_seed, keep_file_order=False)
        splits = [([texts[i] for i in train], [labels[i] for i in train]),
                  ([texts[i] for i in test], [labels[i] for i in test])]
    with transformers_quiet():  # else a warning for every text longer than the model's positions
        (train_ids, train_trunc), (test_ids, test_trunc) = (encode(tokenizer, t, config.max_length)
                                                            for t, _ in splits)
    return {"x_train": train_ids, "y_train": np.array(splits[0][1]), "x_test": test_ids,
            "y_test": np.array(splits[1][1]),
            "counts": np.array([dropped, train_trunc, test_trunc], dtype=np.int64),
            "vocab": np.array([tokenizer.pad_token_id, len(tokenizer)], dtype=np.int64)}


def load(config: TextTableConfig, cache_dir: Path | None = None) -> RawData:
    import numpy as np

    from edgekd.data.array_cache import cached_arrays
    from edgekd.data.base import label_ids
    from edgekd.text.tokenizer import tokenizer_digest

    paths = files(config)
    key = cache_key(config, paths)
    arrays = cached_arrays(cache_dir, f"text-{key}", lambda: _tokenise(config, paths))
    dropped, train_trunc, test_trunc = (int(v) for v in arrays["counts"])
    pad_id, vocab_size = (int(v) for v in arrays["vocab"])
    if config.label is None:  # unlabeled: no classes; label ids are placeholders nothing scores
        train_y, test_y, classes = (np.zeros(len(arrays["y_train"]), dtype=np.int64),
                                    np.zeros(len(arrays["y_test"]), dtype=np.int64), [])
    else:
        train_y, test_y, classes = label_ids(arrays["y_train"], arrays["y_test"], str(paths[0]))
    if config.classes:  # the configured order, not the sorted one
        order = {name: i for i, name in enumerate(config.classes)}
        train_y = np.array([order[classes[i]] for i in train_y], dtype=np.int64)
        test_y = np.array([order[classes[i]] for i in test_y], dtype=np.int64)
        classes = list(config.classes)
    notes = (f"{dropped} empty texts dropped; truncated to {config.max_length} tokens: "
             f"{train_trunc}/{len(train_y)} train, {test_trunc}/{len(test_y)} test")
    return RawData(arrays["x_train"], train_y, arrays["x_test"], test_y, TOKENS_LAYOUT,
                   config.class_names or classes, content_key=key, description=notes,
                   labelled=config.label is not None,
                   tokens={"pad_id": pad_id, "vocab_size": vocab_size, "max_length": config.max_length,
                           "tokenizer": config.tokenizer.removeprefix("pkg://"),
                           "tokenizer_sha256": tokenizer_digest(config.tokenizer),
                           "empty_dropped": dropped, "truncated_train": train_trunc, "truncated_test": test_trunc})

