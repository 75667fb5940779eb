"""Teacher logits on disk: computed once, read as a memory map by every training run.

Two layouts, each standard `.npy` files written under a temporary name and renamed, next to a small
JSON index with the key, shapes and digests:
- full: `logits.npy`, fp16 by default (20 bytes per sample for 10 classes);
- top-k: `topk_log_probs.npy` (fp16) and `topk_indices.npy` (int16), the k most likely classes'
  log-probabilities at T = 1; the rest of the mass is implied (1 − Σ top-k) and spread by the loss.
  With 1,000 classes and k = 10 that is 40 bytes per sample instead of 4,000.
Opening refuses files whose key, shape or digest does not match: a stale or damaged cache is never used.
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


TOPK_VALUES_FILE = "topk_log_probs.npy"
TOPK_INDICES_FILE = "topk_indices.npy"


def write_cache(folder: Path, batches, count: int, num_classes: int, dtype: str, key: str,
                topk: int | None = None) -> dict:
    """Stream `(start, logits)` batches into memory-mapped arrays, then seal them with an index."""
    if topk is None:
        layout = {LOGITS_FILE: (np.dtype(dtype), num_classes)}
    else:
        topk = min(topk, num_classes)
        layout = {TOPK_VALUES_FILE: (np.dtype(np.float16), topk), TOPK_INDICES_FILE: (np.dtype(np.int16), topk)}
    arrays = {name: np.lib.format.open_memmap(folder / (name + ".partial"), mode="w+", dtype=dt,
                                              shape=(count, width))
              for name, (dt, width) in layout.items()}
    for start, logits in batches:
        for name, rows in _rows(logits, topk).items():
            arrays[name][start:start + len(rows)] = rows.astype(arrays[name].dtype)
    for name, array in arrays.items():
        array.flush()
        os.replace(folder / (name + ".partial"), folder / name)
    index = {"key": key, "count": count, "num_classes": num_classes, "format": "full" if topk is None else "topk",
             "k": topk, "files": {name: {"sha256": _digest(folder / name), "dtype": str(dt), "width": width}
                                  for name, (dt, width) in layout.items()},
             "bytes_per_sample": sum(dt.itemsize * width for dt, width in layout.values())}
    (folder / INDEX_FILE).write_text(json.dumps(index, indent=2))
    return index


def _rows(logits: np.ndarray, topk: int | None) -> dict[str, np.ndarray]:
    if topk is None:
        return {LOGITS_FILE: logits}
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    indices = np.argsort(-log_probs, axis=1, kind="stable")[:, :topk]
    return {TOPK_VALUES_FILE: np.take_along_axis(log_probs, indices, axis=1), TOPK_INDICES_FILE: indices}


def open_cache(folder: Path, key: str, count: int, verify: bool = True):
    """The cached teacher, after checking key, shapes and digests.

    A full cache gives the logits as a read-only memory map; a top-k cache gives a
    `TopKTargets` (log-probabilities and class indices)."""
    index_path = folder / INDEX_FILE
    if not index_path.is_file():
        raise ArtifactError(f"teacher cache in {folder} is incomplete")
    index = json.loads(index_path.read_text())
    if index["key"] != key:
        raise ArtifactError(f"teacher cache in {folder} was built for other inputs (stale key)")
    arrays = {}
    for name, record in index["files"].items():
        path = folder / name
        if not path.is_file():
            raise ArtifactError(f"teacher cache in {folder} is incomplete (no {name})")
        if verify and _digest(path) != record["sha256"]:
            raise ArtifactError(f"teacher cache {path} is corrupt (checksum mismatch)")
        array = np.load(path, mmap_mode="r")
        if array.shape != (count, record["width"]):
            raise ArtifactError(f"teacher cache {path} has shape {array.shape}, expected {count} rows")
        arrays[name] = array
    if index["format"] == "full":
        return arrays[LOGITS_FILE]
    from edgekd.kd.teacher_targets import TopKTargets

    return TopKTargets(arrays[TOPK_VALUES_FILE], arrays[TOPK_INDICES_FILE])


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
