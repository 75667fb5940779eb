"""Batch latency: warm up, then time single calls until both a run count and a time budget are met."""

from __future__ import annotations

import time

import numpy as np


def measure_latency(run, sample: np.ndarray, warmup: int = 20, min_runs: int = 200,
                    min_seconds: float = 1.0, max_runs: int = 100_000) -> dict:
    """Time `run(sample)`; percentiles are over individual calls, in milliseconds."""
    for _ in range(warmup):
        run(sample)
    times = []
    started = time.perf_counter()
    while len(times) < max_runs and (len(times) < min_runs or time.perf_counter() - started < min_seconds):
        t0 = time.perf_counter()
        run(sample)
        times.append(time.perf_counter() - t0)
    ms = np.asarray(times) * 1e3
    return latency_stats(ms, batch_size=len(sample))


def latency_stats(ms: np.ndarray, batch_size: int) -> dict:
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {
        "latency_ms_p50": float(p50), "latency_ms_p90": float(p90), "latency_ms_p99": float(p99),
        "latency_ms_mean": float(ms.mean()), "latency_ms_std": float(ms.std()),
        "runs": int(len(ms)), "batch_size": int(batch_size),
        "throughput_per_s": float(batch_size * 1e3 / p50),
    }
