"""How close a model runs to the machine: achieved GFLOP/s over the peak a large matmul reaches."""

from __future__ import annotations

import functools
import time


@functools.lru_cache(maxsize=None)
def matmul_peak_gflops(threads: int, size: int = 1024, repeats: int = 10) -> float:
    """Best-of-`repeats` fp32 GFLOP/s of a size×size matmul on `threads` threads (torch / oneDNN)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(size, size), torch.randn(size, size)
        a @ b  # warm-up
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - started)
    finally:
        torch.set_num_threads(previous)
    return 2 * size**3 / best / 1e9


def roofline_fields(macs: int | None, batch_size: int, latency_ms_p50: float, threads: int) -> dict:
    """Achieved GFLOP/s (2 FLOPs per MAC, at the median latency) and its fraction of the matmul peak."""
    if not macs or not latency_ms_p50:
        return {"macs": macs, "gflops": None, "peak_gflops": None, "gflops_fraction_of_peak": None}
    achieved = 2 * macs * batch_size / (latency_ms_p50 / 1e3) / 1e9
    peak = matmul_peak_gflops(threads)
    return {"macs": macs, "gflops": achieved, "peak_gflops": peak, "gflops_fraction_of_peak": achieved / peak}
