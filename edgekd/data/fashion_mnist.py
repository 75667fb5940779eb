"""Fashion-MNIST in its standard IDX format (gzipped or not), loaded into memory as numpy arrays.

Fashion-MNIST (Xiao et al., 2017, MIT licence) is 60k training and 10k test 28x28 grey images of ten
clothing classes. Debian's `dataset-fashion-mnist` installs the four files under
/usr/share/datasets/fashion-mnist/; any folder holding the same four files works.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekd.errors import DataError

DEFAULT_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)
DATA_DIR_ENV = "EDGEKD_FASHION_MNIST_DIR"

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049
NUM_CLASSES = 10
CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
# Mean and std of the training images scaled to [0, 1]; the standard normalisation for this set.
MEAN, STD = 0.2860, 0.3530


@dataclass(frozen=True)
class Split:
    """One split: uint8 images (N, 28, 28), int64 labels (N,), and a digest of the source files."""

    images: np.ndarray
    labels: np.ndarray
    fingerprint: str
    files: list = ()

    def __len__(self) -> int:
        return len(self.labels)


def resolve_data_dir(data_dir: str | os.PathLike | None, names: tuple[str, ...] | None = None) -> Path:
    """The folder to read from: the one given, else $EDGEKD_FASHION_MNIST_DIR, else Debian's."""
    candidates = [Path(data_dir)] if data_dir else []
    if not candidates and os.environ.get(DATA_DIR_ENV):
        candidates = [Path(os.environ[DATA_DIR_ENV])]
    candidates = candidates or list(DEFAULT_DIRS)
    names = names or tuple(name for pair in SPLIT_FILES.values() for name in pair)
    for folder in candidates:
        if all(_find_file(folder, name) for name in names):
            return folder
    wanted = ", ".join(n + "[.gz]" for n in names)
    looked = ", ".join(str(c) for c in candidates)
    raise DataError(
        f"Fashion-MNIST not found: looked for {wanted} in {looked}; install Debian's "
        f"dataset-fashion-mnist or set data.data_dir (or ${DATA_DIR_ENV})"
    )


def load_split(split: str, data_dir: str | os.PathLike | None = None,
               names: tuple[str, str] | None = None) -> Split:
    """Read one split ("train" or "test") and check its headers and counts. `names` are the image and
    label file names (Fashion-MNIST's by default)."""
    if split not in SPLIT_FILES:
        raise DataError(f"unknown Fashion-MNIST split {split!r}; expected one of {sorted(SPLIT_FILES)}")
    image_name, label_name = names or SPLIT_FILES[split]
    folder = resolve_data_dir(data_dir, None if names is None else (image_name, label_name))
    image_path, label_path = _find_file(folder, image_name), _find_file(folder, label_name)
    image_bytes, label_bytes = _read(image_path), _read(label_path)
    images = _parse_idx(image_bytes, image_path, IMAGE_MAGIC, ndim=3)
    labels = _parse_idx(label_bytes, label_path, LABEL_MAGIC, ndim=1).astype(np.int64)
    if len(images) != len(labels):
        raise DataError(
            f"{image_path} holds {len(images)} images but {label_path} holds {len(labels)} labels"
        )
    if names is None and labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise DataError(f"{label_path}: labels outside 0..{NUM_CLASSES - 1}")
    digest = hashlib.sha256(image_bytes + label_bytes).hexdigest()
    return Split(images=images, labels=labels, fingerprint=digest, files=[image_path, label_path])


def normalize(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28), scaled to [0, 1] then standardised."""
    x = images.astype(np.float32)[:, None, :, :] / 255.0
    return (x - MEAN) / STD


def _find_file(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / (name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _read(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc


def _parse_idx(raw: bytes, path: Path, magic: int, ndim: int) -> np.ndarray:
    """Parse an IDX file: big-endian magic, one uint32 per dimension, then uint8 data."""
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DataError(f"{path}: truncated header ({len(raw)} bytes)")
    found_magic = int.from_bytes(raw[:4], "big")
    if found_magic != magic:
        raise DataError(f"{path}: wrong IDX magic {found_magic}, expected {magic}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header_len + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(f"{path}: {len(raw)} bytes, header {shape} needs {expected} (truncated?)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(shape)
