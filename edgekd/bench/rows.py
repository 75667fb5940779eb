"""One benchmark row: load a model file in its runtime, score it on the test set, time it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

ROW_FIELDS = ("model", "format", "runtime", "status", "reason", "parity_max_abs", "top1_agreement",
              "reference", "fp32_parity_max_abs", "fp32_top1_agreement")


def bench_row(candidate: dict[str, Any], test, config) -> dict[str, Any]:
    """A report row. A failed export stays a row, with its reason, instead of disappearing."""
    row = {key: candidate.get(key) for key in ROW_FIELDS}
    if candidate["status"] != "ok":
        return {**row, "target": _target_name(candidate), "accuracy": None, "size_bytes": None}
    from edgekd.bench.latency import measure_latency
    from edgekd.model_artifacts import accuracy
    from edgekd.runtimes.base import predict

    try:
        runtime = load_runtime(candidate, config.threads)
        logits = predict(runtime, test.inputs)
        batch = runtime.fixed_batch or config.batch_size
        sample = np.ascontiguousarray(test.inputs[:batch])
        timing = measure_latency(runtime.run, sample, config.warmup, config.min_runs, config.min_seconds)
    except Exception as exc:  # a runtime that cannot load or run this file is a row, not a crash
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        return {**row, "status": "failed", "reason": reason, "target": _target_name(candidate),
                "accuracy": None, "size_bytes": None}
    return {**row, "target": runtime.target, "accuracy": accuracy(logits, test.labels),
            "size_bytes": os.path.getsize(candidate["path"]), "runtime_info": runtime.describe(), **timing}


def load_runtime(candidate: dict[str, Any], threads: int):
    path = Path(candidate["path"])
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
