"""Teacher logits on disk: computed once, read as a memory map by every training run.

The file is a standard `.npy` (fp16 by default: 20 bytes per sample for 10 classes) written to a
temporary name and renamed, next to a small JSON index with its key, shape and digest. `open_cache`
refuses a file whose key, shape or digest does not match, so a stale or damaged cache is never used.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from edgekd.errors import ArtifactError

LOGITS_FILE = "logits.npy"
INDEX_FILE = "cache_index.json"


def write_cache(folder: Path, batches, count: int, num_classes: int, dtype: str, key: str) -> dict:
    """Stream `(start, logits)` batches into a memory-mapped array, then seal it with an index."""
    tmp = folder / (LOGITS_FILE + ".partial")
    array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.dtype(dtype), shape=(count, num_classes))
    for start, logits in batches:
        array[start:start + len(logits)] = logits.astype(array.dtype)
    array.flush()
    del array
    os.replace(tmp, folder / LOGITS_FILE)
    index = {"key": key, "shape": [count, num_classes], "dtype": dtype,
             "sha256": _digest(folder / LOGITS_FILE),
             "bytes_per_sample": num_classes * np.dtype(dtype).itemsize}
    (folder / INDEX_FILE).write_text(json.dumps(index, indent=2))
    return index


def open_cache(folder: Path, key: str, count: int, verify: bool = True) -> np.ndarray:
    """The cached logits as a read-only memory map, after checking key, shape and digest."""
    index_path, logits_path = folder / INDEX_FILE, folder / LOGITS_FILE
    if not index_path.is_file() or not logits_path.is_file():
        raise ArtifactError(f"teacher cache in {folder} is incomplete")
    index = json.loads(index_path.read_text())
    if index["key"] != key:
        raise ArtifactError(f"teacher cache in {folder} was built for other inputs (stale key)")
    if verify and _digest(logits_path) != index["sha256"]:
        raise ArtifactError(f"teacher cache {logits_path} is corrupt (checksum mismatch)")
    logits = np.load(logits_path, mmap_mode="r")
    if list(logits.shape) != index["shape"] or logits.shape[0] != count:
        raise ArtifactError(f"teacher cache {logits_path} has shape {logits.shape}, expected {count} rows")
    return logits


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
