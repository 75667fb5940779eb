"""`idx`: Fashion-MNIST (the default) or any IDX set: uint8 images (N, H, W) and uint8 labels.

Fashion-MNIST (Xiao et al., 2017, MIT licence): 60k training and 10k test 28x28 grey images of ten
clothing classes. Debian's `dataset-fashion-mnist` installs the four files under
/usr/share/datasets/fashion-mnist/; any folder holding four IDX files works (names configurable).
"""

from __future__ import annotations

from typing import Literal, Optional

from edgekd.config import StrictModel
from edgekd.data.base import DataConfigBase, RawData, Stat
from edgekd.data.fashion_mnist import CLASS_NAMES, MEAN, STD, SPLIT_FILES


class IdxFiles(StrictModel):
    train_images: str = SPLIT_FILES["train"][0]
    train_labels: str = SPLIT_FILES["train"][1]
    test_images: str = SPLIT_FILES["test"][0]
    test_labels: str = SPLIT_FILES["test"][1]


class IdxConfig(DataConfigBase):
    type: Literal["idx"] = "idx"
    data_dir: Optional[str] = None
    files: IdxFiles = IdxFiles()
    # Fashion-MNIST's standard normalisation; set `auto` for another IDX set.
    mean: Stat = MEAN
    std: Stat = STD


def default_class_names(config: IdxConfig) -> list[str]:
    return list(CLASS_NAMES) if config.files == IdxFiles() else []


def load(config: IdxConfig) -> RawData:
    from edgekd.data.base import label_ids
    from edgekd.data.fashion_mnist import load_split

    names = config.files.model_dump()
    train = load_split("train", config.data_dir, (names["train_images"], names["train_labels"]))
    test = load_split("test", config.data_dir, (names["test_images"], names["test_labels"]))
    train_y, test_y, classes = label_ids(train.labels, test.labels, "idx labels")
    classes = config.class_names or default_class_names(config) or classes
    return RawData(train.images[:, None], train_y, test.images[:, None], test_y, "NCHW", classes,
                   divisor=255.0, files=train.files + test.files, description="IDX images")
