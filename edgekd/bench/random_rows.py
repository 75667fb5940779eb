"""Benchmark rows for model files timed on random inputs (no test data fits them).

A row has latency, cold start, memory and size; accuracy stays empty (there are no labels). Files
whose signatures agree get the same arrays, and each is compared with the first of them: a parity
check between formats of one network without any data.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekd.bench import random_inputs as ri
from edgekd.bench.roofline import roofline_fields
from edgekd.bench.rows import ROW_FIELDS, _peak_rss_bytes, _rss_bytes, _target_name, load_runtime

PARITY_SAMPLES = 8  # samples compared between files sharing a signature (a few batches at batch 1)


@dataclass(frozen=True)
class FedBatch:
    """Named inputs for one call; `len()` is the batch size, which `measure_latency` reports."""

    feeds: dict[str, np.ndarray]
    size: int

    def __len__(self) -> int:
        return self.size


class RandomInputBench:
    """The files timed on random inputs. Building it resolves every shape, so a missing `--shape`
    stops the command before the first timing; `rows()` then measures."""

    def __init__(self, entries: dict[int, tuple[dict[str, Any], Any]], config, shapes: dict[str, tuple[int, ...]]):
        """`entries` maps each file's index to its candidate and its declared inputs, or to the
        exception that reading them raised."""
        self.entries, self.config = entries, config
        self.plans: dict[tuple[int, int], dict[str, tuple[int, ...]]] = {}
        self.unmeasured: dict[tuple[int, int], dict[str, Any]] = {}  # failed and skipped rows
        for batch_size in config.batch_sizes:
            for i, (candidate, inputs) in entries.items():
                if isinstance(inputs, Exception):
                    self.unmeasured[i, batch_size] = _unmeasured(candidate, batch_size, "failed",
                                                                 f"reading its inputs: {_reason(inputs)}")
                elif ri.declared_batch(inputs) not in (None, batch_size):
                    self.unmeasured[i, batch_size] = _unmeasured(candidate, batch_size, "skipped", (
                        f"the file's batch is fixed at {ri.declared_batch(inputs)}; batch {batch_size} is "
                        "not measured on it"))
                else:
                    self.plans[i, batch_size] = ri.resolve_shapes(Path(candidate["path"]), inputs, shapes, batch_size)

    def rows(self) -> dict[tuple[int, int], dict[str, Any]]:
        """Rows keyed by (file index, batch size)."""
        groups: dict[tuple, list[int]] = {}
        for (i, batch_size), resolved in self.plans.items():
            groups.setdefault((batch_size, ri.signature_key(self.entries[i][1], resolved)), []).append(i)
        rows = dict(self.unmeasured)
        for (batch_size, key), members in groups.items():
            compared = len(members) > 1
            batches = ri.batches_for(PARITY_SAMPLES, batch_size) if compared else 1
            try:
                canonical = ri.random_canonical(key, batches)
            except ValueError as exc:  # e.g. a string input
                rows.update({(i, batch_size): _unmeasured(self.entries[i][0], batch_size, "failed", _reason(exc))
                             for i in members})
                continue
            reference = None  # (file name, outputs) of the first member that ran
            for i in members:
                candidate, inputs = self.entries[i]
                shapes = self.plans[i, batch_size]
                row, outputs = _measure(candidate, inputs, shapes, canonical, batches, self.config, batch_size)
                row["reference"] = f"random inputs {ri.describe(inputs, shapes)}"
                if compared and row["status"] == "ok":
                    if reference is None:
                        reference = (Path(candidate["path"]).name, outputs)
                        row["reference"] += "; the parity reference for files of this signature"
                    elif _channels_first(outputs).shape == _channels_first(reference[1]).shape:
                        row.update(output_parity(reference[1], outputs))
                        row["reference"] += f"; parity vs {reference[0]} on the same inputs"
                    else:  # e.g. another output first: nothing to compare, and the row says so
                        row["reference"] += (f"; its first output {list(outputs.shape)} does not compare with "
                                             f"{reference[0]}'s {list(reference[1].shape)}")
                rows[i, batch_size] = row
        return rows


def _measure(candidate, inputs, shapes, canonical, batches, config, batch_size):
    """The timed row and the outputs over all `batches` (only the first batch is timed)."""
    from edgekd.bench.latency import measure_latency

    row = {key: candidate.get(key) for key in ROW_FIELDS} | {"batch_size": batch_size, "accuracy": None}
    try:
        rss_before = _rss_bytes()
        started = time.perf_counter()
        runtime = load_runtime(candidate, config.threads)
        first = ri.file_feeds(inputs, shapes, canonical, 0)
        outputs = [np.asarray(runtime.run_inputs(first))]
        cold_start_ms = (time.perf_counter() - started) * 1e3  # load (session create) + first inference
        outputs += [np.asarray(runtime.run_inputs(ri.file_feeds(inputs, shapes, canonical, b)))
                    for b in range(1, batches)]
        timing = measure_latency(lambda fed: runtime.run_inputs(fed.feeds), FedBatch(first, batch_size),
                                 config.warmup, config.min_runs, config.min_seconds)
        memory = {"cold_start_ms": cold_start_ms, "rss_growth_bytes": max(0, _rss_bytes() - rss_before),
                  "peak_rss_bytes": _peak_rss_bytes()}
    except Exception as exc:  # a file the runtime cannot load or run is a row, not a crash
        return _unmeasured(candidate, batch_size, "failed", _reason(exc)), None
    roofline = roofline_fields(candidate.get("macs"), batch_size, timing["latency_ms_p50"], config.threads)
    return {**row, "status": "ok", "reason": None, "target": runtime.target,
            "size_bytes": os.path.getsize(candidate["path"]), "runtime_info": runtime.describe(),
            **timing, **memory, **roofline}, np.concatenate(outputs, axis=0)


def output_parity(reference: np.ndarray, outputs: np.ndarray) -> dict[str, Any]:
    """Max |difference| of outputs of one shape (up to layout); top-1 agreement only for (batch,
    classes) outputs."""
    reference, outputs = _channels_first(reference), _channels_first(outputs)
    diff = np.abs(reference.astype(np.float64) - outputs.astype(np.float64))
    agreement = (float(np.mean(reference.argmax(axis=1) == outputs.argmax(axis=1)))
                 if reference.ndim == 2 else None)
    return {"parity_max_abs": float(diff.max()) if diff.size else 0.0, "top1_agreement": agreement}


def _channels_first(array: np.ndarray) -> np.ndarray:
    """A channels-last feature map (onnx2tf's TFLite outputs) in NCHW, so it compares with ONNX's."""
    return array.transpose(0, 3, 1, 2) if ri.channels_first(array.shape) != array.shape else array


def _unmeasured(candidate: dict[str, Any], batch_size: int, status: str, reason: str) -> dict[str, Any]:
    return {**{key: candidate.get(key) for key in ROW_FIELDS}, "batch_size": batch_size, "accuracy": None,
            "size_bytes": None, "target": _target_name(candidate), "status": status, "reason": reason}


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
