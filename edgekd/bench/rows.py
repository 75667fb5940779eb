"""One benchmark row: load a model file in its runtime, score it on the test set, time it."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgekd.bench.roofline import roofline_fields

ROW_FIELDS = ("model", "format", "runtime", "status", "reason", "parity_max_abs", "parity_rel", "top1_agreement",
              "reference", "fp32_parity_max_abs", "fp32_top1_agreement", "cosine_min")


def bench_row(candidate: dict[str, Any], test, config, batch_size: int = 1) -> dict[str, Any]:
    """A report row at `batch_size`. A failed export stays a row, with its reason, instead of
    disappearing."""
    row = {key: candidate.get(key) for key in ROW_FIELDS} | {"batch_size": batch_size}
    if candidate["status"] != "ok":
        return {**row, "target": _target_name(candidate), "accuracy": None, "size_bytes": None}
    from edgekd.bench.latency import measure_latency
    from edgekd.model_artifacts import accuracy
    from edgekd.runtimes.base import predict

    try:
        rss_before = _rss_bytes()
        started = time.perf_counter()
        runtime = load_runtime(candidate, config.threads)
        if runtime.fixed_batch and runtime.fixed_batch != batch_size:
            return {**row, "status": "skipped", "target": runtime.target, "accuracy": None, "size_bytes": None,
                    "reason": f"the file's batch is fixed at {runtime.fixed_batch} (converted for the shape "
                              f"phones run); batch {batch_size} is not measured on it"}
        batch = batch_size
        sample = np.ascontiguousarray(test.inputs[:batch])
        runtime.run(sample)
        cold_start_ms = (time.perf_counter() - started) * 1e3  # load (session create) + first inference
        logits = predict(runtime, test.inputs)
        timing = measure_latency(runtime.run, sample, config.warmup, config.min_runs, config.min_seconds)
        memory = {"cold_start_ms": cold_start_ms, "rss_growth_bytes": max(0, _rss_bytes() - rss_before),
                  "peak_rss_bytes": _peak_rss_bytes()}
        roofline = roofline_fields(candidate.get("macs"), batch, timing["latency_ms_p50"], config.threads)
    except Exception as exc:  # a runtime that cannot load or run this file is a row, not a crash
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        return {**row, "status": "failed", "reason": reason, "target": _target_name(candidate),
                "accuracy": None, "size_bytes": None}
    labelled = getattr(test, "labelled", True)  # unlabeled text (an embedder) has nothing to score
    return {**row, "target": runtime.target, "accuracy": accuracy(logits, test.labels) if labelled else None,
            "size_bytes": os.path.getsize(candidate["path"]), "runtime_info": runtime.describe(), **timing,
            **memory, **roofline}


def failed_rows(rows: list[dict[str, Any]]) -> list[str]:
    """`model/format/target` of each failed row: what a stage reports under `failures`."""
    return [f"{r['model']}/{r['format']}/{r['target']}" for r in rows if r["status"] == "failed"]


def _rss_bytes() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _peak_rss_bytes() -> int:
    """The process's peak resident set so far (Linux reports kilobytes)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def load_runtime(candidate: dict[str, Any], threads: int):
    path = Path(candidate["path"])
    if candidate["runtime"] == "pytorch" and candidate.get("architecture"):  # a bare checkpoint file
        from edgekd.models.checkpoints import load_model as load_checkpoint
        from edgekd.runtimes.torch_ref import TorchRuntime

        return TorchRuntime(load_checkpoint(candidate["architecture"], path), threads=threads)
    if candidate["runtime"] == "pytorch":
        from edgekd.artifacts import Artifact
        from edgekd.model_artifacts import load_model
        from edgekd.runtimes.torch_ref import TorchRuntime

        return TorchRuntime(load_model(Artifact.open(candidate["artifact"])), threads=threads)
    if candidate["runtime"] == "onnxruntime":
        from edgekd.runtimes.onnxruntime_rt import OrtRuntime

        return OrtRuntime(path, candidate.get("provider", "CPUExecutionProvider"), threads=threads)
    if candidate["runtime"] == "litert":
        from edgekd.runtimes.litert_rt import LiteRTRuntime

        return LiteRTRuntime(path, threads=threads)
    raise ValueError(f"unknown runtime {candidate['runtime']!r}")


def _target_name(candidate: dict[str, Any]) -> str:
    if candidate["runtime"] == "onnxruntime":
        from edgekd.runtimes.onnxruntime_rt import TARGET_NAMES

        provider = candidate.get("provider", "CPUExecutionProvider")
        return TARGET_NAMES.get(provider, provider)
    return {"pytorch": "torch-cpu", "litert": "litert"}.get(candidate["runtime"], "?")
