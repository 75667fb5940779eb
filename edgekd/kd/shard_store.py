"""Sharded, memory-mapped column store: the teacher cache's on-disk format.

A store is a folder of standard `.npy` shards (shard s holds rows [s·R, (s+1)·R) of every column)
and an `index.json` naming the columns (dtype, per-row shape), each shard's SHA-256 digests and the
content key the store was built for. Each shard file is written under a temporary name and renamed,
and a `shard-NNNNN.done.json` marker with its digests comes last: after a kill, every shard with a
marker is complete, so a rebuild resumes from the first one without. Opening checks the key, every
shape and every digest: a stale, truncated or damaged store is refused, never read.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from edgekd.artifacts import file_digest
from edgekd.errors import ArtifactError

INDEX_FILE = "index.json"
FORMAT_VERSION = 2


@dataclass(frozen=True)
class Column:
    """One per-sample array: `shape` is the shape of a single row."""

    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def bytes_per_row(self) -> int:
        return np.dtype(self.dtype).itemsize * math.prod(self.shape)


def shard_ranges(count: int, shard_rows: int) -> list[tuple[int, int]]:
    return [(start, min(start + shard_rows, count)) for start in range(0, count, shard_rows)]


def shard_file(shard: int, column: str) -> str:
    return f"shard-{shard:05d}.{column}.npy"


def write_shard(folder: Path, shard: int, columns: Iterable[Column], rows: dict[str, np.ndarray],
                key: str) -> dict:
    """Write one shard's columns atomically, then its completion marker; return the marker."""
    files = {}
    for column in columns:
        data = np.ascontiguousarray(rows[column.name], dtype=column.dtype)
        if data.shape[1:] != column.shape:
            raise ValueError(f"column {column.name}: rows of shape {data.shape[1:]}, expected {column.shape}")
        name = shard_file(shard, column.name)
        partial = folder / (name + ".partial")
        with open(partial, "wb") as handle:
            np.save(handle, data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, folder / name)
        files[name] = file_digest(folder / name)
    marker = {"shard": shard, "rows": len(data), "key": key, "files": files}
    _write_json(folder / f"shard-{shard:05d}.done.json", marker)
    return marker


def finished_shard(folder: Path, shard: int, rows: int, key: str, verify: bool = True) -> dict | None:
    """The marker of a finished shard, if its files are there (and, with `verify`, still match their
    digests: a shard left by a killed build is checked before it is kept)."""
    path = folder / f"shard-{shard:05d}.done.json"
    try:
        marker = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if marker.get("key") != key or marker.get("rows") != rows:
        return None
    for name, digest in marker["files"].items():
        if not (folder / name).is_file() or (verify and file_digest(folder / name) != digest):
            return None
    return marker


def build_store(folder: Path, columns: list[Column], count: int, shard_rows: int, key: str,
                compute_rows: Callable[[int, int], dict[str, np.ndarray]],
                shards: Iterable[int] | None = None, on_rows: Callable[[int], None] | None = None) -> None:
    """Compute and write the shards (all, or just `shards`) in `folder`.

    Shards already finished in `folder` are kept. `shards` lets a distributed rank write only its
    share; `seal_store` then gathers every marker into the index.
    """
    folder.mkdir(parents=True, exist_ok=True)
    ranges = shard_ranges(count, shard_rows)
    for shard in (range(len(ranges)) if shards is None else shards):
        start, stop = ranges[shard]
        if finished_shard(folder, shard, stop - start, key) is None:
            write_shard(folder, shard, columns, compute_rows(start, stop), key)
        if on_rows is not None:
            on_rows(stop - start)


def seal_store(folder: Path, columns: list[Column], count: int, shard_rows: int, key: str,
               scratch: Path | None = None, extra: dict | None = None) -> dict:
    """Move every finished shard from `scratch` into `folder` and write the index last.

    The digests come from the markers, written from the files just after they were written (or
    re-checked on resume); opening the store checks them again, so they are not recomputed here."""
    scratch = scratch or folder
    ranges = shard_ranges(count, shard_rows)
    shards = []
    for shard, (start, stop) in enumerate(ranges):
        marker = finished_shard(scratch, shard, stop - start, key, verify=False)
        if marker is None:
            raise ArtifactError(f"teacher cache shard {shard} in {scratch} is missing or incomplete")
        for name in marker["files"]:
            if scratch != folder:
                shutil.move(str(scratch / name), folder / name)
        shards.append({"start": start, "stop": stop, "files": marker["files"]})
    index = {
        "format_version": FORMAT_VERSION, "key": key, "count": count, "shard_rows": shard_rows,
        "columns": {c.name: {"dtype": c.dtype, "shape": list(c.shape)} for c in columns},
        "shards": shards, "bytes_per_sample": sum(c.bytes_per_row for c in columns),
        **(extra or {}),
    }
    index["total_bytes"] = index["bytes_per_sample"] * count
    _write_json(folder / INDEX_FILE, index)
    for marker in folder.glob("shard-*.done.json"):
        marker.unlink()
    return index


class ShardedColumn:
    """Rows of one column spread over memory-mapped shards, gathered by sample index."""

    def __init__(self, shards: list[np.ndarray], shard_rows: int):
        self.shards, self.shard_rows = shards, shard_rows
        self.shape = (sum(len(s) for s in shards), *shards[0].shape[1:])
        self.dtype = shards[0].dtype

    def __len__(self) -> int:
        return self.shape[0]

    def gather(self, index: np.ndarray) -> np.ndarray:
        index = np.asarray(index)
        owner, local = np.divmod(index, self.shard_rows)
        out = np.empty((len(index), *self.shape[1:]), dtype=self.dtype)
        for shard in np.unique(owner):
            chosen = owner == shard
            out[chosen] = self.shards[shard][local[chosen]]
        return out

    def load(self) -> np.ndarray:
        """All rows in one in-memory array."""
        return np.concatenate([np.asarray(s) for s in self.shards])


def open_store(folder: Path, key: str, count: int, verify: bool = True) -> tuple[dict, dict[str, ShardedColumn]]:
    """The index and columns of a finished store, after checking key, shapes and digests."""
    try:
        index = json.loads((folder / INDEX_FILE).read_text())
    except (OSError, ValueError):
        raise ArtifactError(f"teacher cache in {folder} is incomplete (no readable {INDEX_FILE})") from None
    if index.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"teacher cache in {folder} has format {index.get('format_version')}, "
                            f"this edgekd reads {FORMAT_VERSION}; rebuild it")
    if index["key"] != key:
        raise ArtifactError(f"teacher cache in {folder} was built for other inputs (stale key)")
    if index["count"] != count:
        raise ArtifactError(f"teacher cache in {folder} has {index['count']} rows, expected {count} rows")
    columns: dict[str, list[np.ndarray]] = {name: [] for name in index["columns"]}
    for shard in index["shards"]:
        for name, digest in shard["files"].items():
            column = name[len("shard-00000."):-len(".npy")]
            columns[column].append(_open_shard(folder / name, digest, shard, index["columns"][column], verify))
    return index, {name: ShardedColumn(shards, index["shard_rows"]) for name, shards in columns.items()}


def _open_shard(path: Path, digest: str, shard: dict, column: dict, verify: bool) -> np.ndarray:
    if not path.is_file():
        raise ArtifactError(f"teacher cache is incomplete: {path} is missing")
    if verify and file_digest(path) != digest:
        raise ArtifactError(f"teacher cache shard {path} is corrupt or truncated (checksum mismatch)")
    try:
        array = np.load(path, mmap_mode="r")
    except ValueError as exc:
        raise ArtifactError(f"teacher cache shard {path} is unreadable ({exc})") from None
    expected = (shard["stop"] - shard["start"], *column["shape"])
    if array.shape != expected or str(array.dtype) != column["dtype"]:
        raise ArtifactError(f"teacher cache shard {path} holds {array.dtype}{list(array.shape)}, "
                            f"expected {column['dtype']}{list(expected)}")
    return array


def _write_json(path: Path, payload: dict) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(payload, indent=2))
    os.replace(partial, path)
