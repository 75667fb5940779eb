"""PyTorch -> ONNX through the `torch.export`-based exporter (dynamo=True), opset 18.

The graph goes into one self-contained `.onnx` file (`external_data=False`) with a dynamic batch
dimension. A PT2E-quantised module exports as QuantizeLinear/DequantizeLinear pairs around float ops,
which ONNX Runtime fuses into QLinearConv/QGemm-style integer kernels. PT2E's activations are int8
(TFLite's convention); the file is rewritten to uint8 activations (`onnx_uint8`), exactly, because
ORT's x86 kernels leave many int8-activation convs in float.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import numpy as np

OPSET = 18
# What a float convolution is called in ORT's optimised graph, after fusing a bias or activation in.
FLOAT_CONV_OPS = ("Conv", "FusedConv", "NhwcFusedConv")


def export_onnx(module, sample: np.ndarray, path: Path, uint8_activations: bool = True) -> None:
    """Write `module` to `path`. A quantised module's activations become uint8 unless
    `uint8_activations=False` (PT2E's own int8, kept for comparisons); weights stay int8."""
    import torch

    from edgekd.compress.quantization import export_program, fold_weight_quantization
    from edgekd.export.onnx_uint8 import rewrite_file

    from edgekd.export import token_inputs

    if token_inputs.is_token_batch(sample):  # a text model: input_ids + attention_mask
        program = token_inputs.export_program(module, sample)
        with _quiet():
            torch.onnx.export(program, (), str(path), dynamo=True, opset_version=OPSET, external_data=False,
                              input_names=list(token_inputs.INPUT_NAMES), output_names=["logits"], verbose=False)
        token_inputs.name_dims(path)
        return
    # Store int8 weights as int8 initializers (PT2E leaves float weights + Quantize for litert-torch).
    module = fold_weight_quantization(module)
    try:
        program = export_program(module, sample)
    except Exception as exc:
        if isinstance(module, torch.fx.GraphModule):  # a quantised program: nothing to fall back to
            raise
        _export_torchscript(module, sample, path, exc)
        return
    with _quiet():
        torch.onnx.export(program, (), str(path), dynamo=True, opset_version=OPSET,
                          external_data=False, input_names=["input"], output_names=["logits"],
                          verbose=False)
    if uint8_activations:
        rewrite_file(path)  # leaves a float model's file untouched


DYNAMIC_INT8_OPS = ("MatMul", "Gemm", "Gather", "Attention", "EmbedLayerNormalization")


def quantize_dynamic_file(fp32_path: Path, path: Path, op_types: tuple[str, ...] = DYNAMIC_INT8_OPS) -> None:
    """ORT dynamic quantisation: int8 weights, activations quantised at run time (MatMulInteger,
    DynamicQuantizeLinear). The usual int8 route for transformers, where static ranges lose too much
    (TOOLCHAIN.md: MiniLM static QDQ agreed on 55 %); needs no calibration data. Embedding tables
    (Gather) are stored int8 too. Convolutions stay float: ConvInteger ran slower than the float conv
    (a token CNN: 0.37 vs 0.15 ms); convs want the static route."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = path.with_suffix(".pre.onnx")
    try:
        with _quiet():
            quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
            quantize_dynamic(str(prepared), str(path), weight_type=QuantType.QInt8, per_channel=False,
                             op_types_to_quantize=list(op_types))
    finally:
        prepared.unlink(missing_ok=True)


def _export_torchscript(module, sample: np.ndarray, path: Path, cause: Exception) -> None:
    """A float model `torch.export` cannot trace (a data-dependent branch, say) still gets an fp32 file:
    the TorchScript exporter records the path one example takes, and the parity check that follows
    every export says whether that path is the model. `cause` stays on the file's metadata."""
    import onnx
    import torch

    example = torch.from_numpy(np.ascontiguousarray(sample[:2]))
    with _quiet(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about the very branch that made us fall back
        torch.onnx.export(module.eval(), (example,), str(path), dynamo=False, opset_version=OPSET,
                          input_names=["input"], output_names=["logits"], dynamic_axes={"input": {0: "batch"}})
    model = onnx.load(str(path))
    reason = f"{type(cause).__name__}: {str(cause).strip().splitlines()[0] if str(cause).strip() else ''}"
    model.metadata_props.add(key="edgekd.exporter", value=f"torchscript (torch.export failed: {reason[:200]})")
    onnx.save(model, str(path))


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
    """Op types ORT actually runs after graph optimisation: integer kernels vs float Conv/Gemm, and
    how many convolutions it left in float (`float_convs`: 0 when every conv is QLinearConv)."""
    import onnx

    from edgekd.runtimes.onnxruntime_rt import OrtRuntime

    OrtRuntime(path, optimized_model_path=optimized_path)
    ops = [node.op_type for node in onnx.load(str(optimized_path)).graph.node]
    integer = sorted({op for op in ops if op.startswith(("QLinear", "QGemm", "ConvInteger", "MatMulInteger"))})
    float_compute = sorted({op for op in ops if op in ("Conv", "Gemm", "MatMul", "FusedConv", "FusedGemm")})
    float_convs = sum(op in FLOAT_CONV_OPS for op in ops)
    return {"integer_ops": integer, "float_compute_ops": float_compute, "float_convs": float_convs}
