"""How close a model runs to the machine: achieved GFLOP/s over the peak a large fp32 matmul reaches.

The peak is the best of two engines on the same thread count: torch (oneDNN) and ONNX Runtime's
MLAS. On the development machine MLAS reaches about twice torch's single-thread figure, so taking
torch alone would let fp32 models appear to run above "peak". int8 kernels can still exceed the
fp32 peak (VNNI): the fraction is against fp32.
"""

from __future__ import annotations

import functools
import time


@functools.lru_cache(maxsize=None)
def matmul_peak_gflops(threads: int, size: int = 1024, repeats: int = 10) -> float:
    """Best fp32 GFLOP/s of a size×size matmul on `threads` threads, over torch and ONNX Runtime."""
    return max(_torch_matmul_gflops(threads, size, repeats), _ort_matmul_gflops(threads, size, repeats))


def _best_seconds(call, repeats: int) -> float:
    call()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def _torch_matmul_gflops(threads: int, size: int, repeats: int) -> float:
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(size, size), torch.randn(size, size)
        return 2 * size**3 / _best_seconds(lambda: a @ b, repeats) / 1e9
    finally:
        torch.set_num_threads(previous)


def _ort_matmul_gflops(threads: int, size: int, repeats: int) -> float:
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper

    spec = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [size, size]) for name in "ABC"]
    graph = helper.make_graph([helper.make_node("MatMul", ["A", "B"], ["C"])], "peak", spec[:2], spec[2:])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    a = np.random.default_rng(0).random((size, size), dtype=np.float32)
    return 2 * size**3 / _best_seconds(lambda: session.run(None, {"A": a, "B": a}), repeats) / 1e9


def roofline_fields(macs: int | None, batch_size: int, latency_ms_p50: float, threads: int) -> dict:
    """Achieved GFLOP/s (2 FLOPs per MAC, at the median latency) and its fraction of the matmul peak."""
    if not macs or not latency_ms_p50:
        return {"macs": macs, "gflops": None, "peak_gflops": None, "gflops_fraction_of_peak": None}
    achieved = 2 * macs * batch_size / (latency_ms_p50 / 1e3) / 1e9
    peak = matmul_peak_gflops(threads)
    return {"macs": macs, "gflops": achieved, "peak_gflops": peak, "gflops_fraction_of_peak": achieved / peak}
