"""`image_folder`: `root/<split>/<class>/*.png|jpg`, or `root/<class>/*` with a seeded split.

Pillow decodes every image once, resized to `size` in `channels` (1: grey, 3: RGB), into a uint8
memmap keyed by the digests of all the files and the decode settings; later runs map that file. A
corrupt image is named. Train and test must have the same class folders.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal, Optional

from pydantic import Field

from edgekd.data.base import DataConfigBase, RawData
from edgekd.errors import DataError

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
DECODE_VERSION = "pil-v1"


class ImageFolderConfig(DataConfigBase):
    type: Literal["image_folder"] = "image_folder"
    root: str
    train_dir: Optional[str] = Field("train", description="subfolder of root; null: one folder, split here")
    test_dir: str = "test"
    size: tuple[int, int] = Field(description="height, width after resizing")
    channels: Literal[1, 3] = 3
    resize: Literal["bilinear", "nearest", "bicubic"] = "bilinear"
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    split_seed: int = 0


def _listing(folder: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    if not folder.is_dir():
        raise DataError(f"image folder {folder} not found")
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise DataError(f"{folder}: no class folders (expected {folder}/<class>/*.png)")
    items = [(path, i) for i, name in enumerate(classes)
             for path in sorted((folder / name).iterdir()) if path.suffix.lower() in SUFFIXES]
    return classes, items


def _split_listings(config: ImageFolderConfig):
    root = Path(config.root)
    if config.train_dir is None:
        from edgekd.data.base import seeded_split

        classes, items = _listing(root)
        train, test = seeded_split(len(items), config.test_fraction, config.split_seed)
        return classes, [items[i] for i in train], [items[i] for i in test]
    train_classes, train = _listing(root / config.train_dir)
    test_classes, test = _listing(root / config.test_dir)
    if train_classes != test_classes:
        only_train = sorted(set(train_classes) - set(test_classes))
        only_test = sorted(set(test_classes) - set(train_classes))
        raise DataError(f"{root}: train and test class folders differ (only in train: {only_train[:3]}, "
                        f"only in test: {only_test[:3]})")
    return train_classes, train, test


def files(config: ImageFolderConfig) -> list[Path]:
    _, train, test = _split_listings(config)
    return [path for path, _ in train + test]


def _decode(items, config: ImageFolderConfig, out_path: Path):
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    height, width = config.size
    shape = (len(items), config.channels, height, width)
    tmp = out_path.with_suffix(".tmp")
    array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
    method = {"bilinear": Image.BILINEAR, "nearest": Image.NEAREST, "bicubic": Image.BICUBIC}[config.resize]
    for i, (path, _) in enumerate(items):
        try:
            with Image.open(path) as image:
                image = image.convert("L" if config.channels == 1 else "RGB")
                if image.size != (width, height):
                    image = image.resize((width, height), method)
                pixels = np.asarray(image, dtype=np.uint8)
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            tmp.unlink(missing_ok=True)
            raise DataError(f"corrupt image {path}: {exc}") from None
        array[i] = pixels[None] if config.channels == 1 else pixels.transpose(2, 0, 1)
    array.flush()
    del array
    tmp.rename(out_path)  # a killed decode leaves only the .tmp, never a file that looks complete


def load(config: ImageFolderConfig, cache_dir: Path) -> RawData:
    import numpy as np

    classes, train, test = _split_listings(config)
    settings = config.model_dump(mode="json", include={"size", "channels", "resize", "train_dir",
                                                        "test_fraction", "split_seed"})
    arrays, keys = {}, []
    for split, items in (("train", train), ("test", test)):
        if not items:
            raise DataError(f"{config.root}: no {split} images")
        digest = hashlib.sha256(json.dumps([DECODE_VERSION, settings]).encode())
        for path, label in items:
            digest.update(f"{path.relative_to(config.root)}:{label}:".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        target = cache_dir / f"images-{split}-{digest.hexdigest()[:24]}.npy"
        if not target.is_file():
            cache_dir.mkdir(parents=True, exist_ok=True)
            _decode(items, config, target)
        arrays[split] = np.load(target, mmap_mode="r")
        keys.append(target.stem)
    labels = {split: np.array([label for _, label in items], dtype=np.int64)
              for split, items in (("train", train), ("test", test))}
    return RawData(arrays["train"], labels["train"], arrays["test"], labels["test"], "NCHW",
                   config.class_names or classes, divisor=255.0, content_key=",".join(keys),
                   description=f"image folder {config.size[0]}x{config.size[1]}x{config.channels}")
