"""What every data source's config has, and the raw arrays a source hands to `prepare`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Optional, Union

from pydantic import Field, PositiveInt

from edgekd.config import StrictModel

Stat = Union[float, list[float], Literal["auto"], None]


class DataConfigBase(StrictModel):
    """Fields of every source. mean/std: given (a value per channel, or one for all), `auto`
    (computed on the training split) or null (no standardisation)."""

    type: str
    train_subset: Optional[PositiveInt] = None
    test_subset: Optional[PositiveInt] = None
    mean: Stat = "auto"
    std: Stat = "auto"
    class_names: Optional[list[str]] = Field(None, description="names for label ids 0..K-1")


@dataclass
class RawData:
    """A source's output before normalisation. `layout` is the layout of `*_x` (NCHW, NCL or NC);
    Stored values are divided by `divisor` first (255 for uint8 images), before mean/std."""

    train_x: object
    train_y: object
    test_x: object
    test_y: object
    layout: str
    class_names: list[str]
    divisor: float = 1.0
    files: list[Path] = field(default_factory=list)  # whose digests identify the data
    content_key: str = ""  # or a digest the source already computed (decoded image caches)
    description: str = ""
    # Token-id sources: pad_id, vocab_size, max_length, the tokenizer's name and digest, and counts.
    tokens: dict | None = None
    labelled: bool = True  # False: unlabeled samples (sentences for embedding distillation)


def label_ids(train_labels, test_labels, where: str):
    """Integer ids 0..K-1 and class names for any labels: ints 0..K-1 stay as they are; anything else
    (strings, sparse ints) maps through its sorted unique values."""
    import numpy as np

    from edgekd.errors import DataError

    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    if train_labels.dtype.kind in "iu" and test_labels.dtype.kind in "iu":
        top = int(max(train_labels.max(initial=0), test_labels.max(initial=0)))
        if train_labels.min(initial=0) >= 0 and set(np.unique(train_labels)) == set(range(top + 1)):
            return train_labels.astype(np.int64), test_labels.astype(np.int64), [str(i) for i in range(top + 1)]
    values = sorted(set(train_labels.tolist()))
    unknown = sorted(set(test_labels.tolist()) - set(values))
    if unknown:
        raise DataError(f"{where}: test labels {unknown[:3]} never occur in the training split")
    index = {value: i for i, value in enumerate(values)}
    to_ids = np.vectorize(index.__getitem__, otypes=[np.int64])
    return to_ids(train_labels), to_ids(test_labels), [str(v) for v in values]


def seeded_split(count: int, test_fraction: float, seed: int, keep_file_order: bool = True):
    """(train indices, test indices): a seeded shuffle, sorted back so file order is kept unless
    `keep_file_order=False` (files sorted by class, where `train_subset` must still mix classes)."""
    import numpy as np

    order = np.random.default_rng(seed).permutation(count)
    cut = int(round(count * (1 - test_fraction)))
    if not keep_file_order:
        return order[:cut], order[cut:]
    return np.sort(order[:cut]), np.sort(order[cut:])
