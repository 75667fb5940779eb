"""PyTorch -> ONNX through the `torch.export`-based exporter (dynamo=True), opset 18.

The graph goes into one self-contained `.onnx` file (`external_data=False`) with a dynamic batch
dimension. A PT2E-quantised module exports as QuantizeLinear/DequantizeLinear pairs around float ops,
which ONNX Runtime fuses into QLinearConv/QGemm-style integer kernels.
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import numpy as np

OPSET = 18


def export_onnx(module, sample: np.ndarray, path: Path) -> None:
    import torch

    from edgekd.quantization import export_program, fold_weight_quantization

    # Store int8 weights as int8 initializers (PT2E leaves float weights + Quantize for litert-torch).
    module = fold_weight_quantization(module)
    program = export_program(module, sample)
    with _quiet():
        torch.onnx.export(program, (), str(path), dynamo=True, opset_version=OPSET,
                          external_data=False, input_names=["input"], output_names=["logits"],
                          verbose=False)


@contextlib.contextmanager
def _quiet():
    """The exporter prints progress lines and warns about torchvision ops it cannot register."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


def integer_op_share(path: Path, optimized_path: Path) -> dict:
    """Op types ORT actually runs after graph optimisation: integer kernels vs float Conv/Gemm."""
    import onnx

    from edgekd.runtimes.onnxruntime_rt import OrtRuntime

    OrtRuntime(path, optimized_model_path=optimized_path)
    ops = [node.op_type for node in onnx.load(str(optimized_path)).graph.node]
    integer = sorted({op for op in ops if op.startswith(("QLinear", "QGemm", "ConvInteger", "MatMulInteger"))})
    float_compute = sorted({op for op in ops if op in ("Conv", "Gemm", "MatMul", "FusedConv", "FusedGemm")})
    return {"integer_ops": integer, "float_compute_ops": float_compute}
