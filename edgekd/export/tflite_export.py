"""PyTorch -> TFLite with litert-torch (Google's PyTorch converter), keeping NCHW float I/O for fp32.

Routes, each chosen because it works on real networks on the pinned stack:
- fp32: `litert_torch.convert` of the eval-mode module.
- fp16: the fp32 file with weights cast to float16 by ai-edge-quantizer's float-casting recipe
  (weights stored fp16 and dequantised at load; activations stay fp32). Needs no TensorFlow.
- int8: the PT2E-quantised module (Q/DQ not folded, which the converter requires) converted with the
  same quantiser config; the result is full-integer with int8 input and output tensors.
The models are converted with a batch-1 input, the shape phones run.
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import numpy as np


def export_tflite_fp32(module, sample: np.ndarray, path: Path) -> None:
    """A text model (integer ids) converts with `input_ids` and `attention_mask` at the data's fixed
    length, batch 1; TFLite stores them as int32."""
    import torch

    from edgekd.export.token_inputs import TokenInputs, is_token_batch

    first = torch.from_numpy(np.ascontiguousarray(sample[:1]))
    if is_token_batch(sample):
        module, example = TokenInputs(module.eval()), (first, torch.ones_like(first))
    else:
        example = (first,)
    with _quiet():
        import litert_torch

        edge = litert_torch.convert(module.eval(), example)
        edge.export(str(path))


def quantize_dynamic_int8(fp32_path: Path, path: Path) -> None:
    """int8 weights, activations quantised at run time (ai-edge-quantizer `dynamic_wi8_afp32`): the
    TFLite counterpart of ORT dynamic quantisation, for transformers."""
    with _quiet(), contextlib.redirect_stderr(io.StringIO()):  # its tqdm bars go to stderr
        from ai_edge_quantizer import quantizer, recipe

        dynamic = quantizer.Quantizer(str(fp32_path), recipe.dynamic_wi8_afp32())
        dynamic.quantize().export_model(str(path), overwrite=True)


def export_tflite_int8(quantized_module, sample: np.ndarray, path: Path) -> None:
    import torch
    from torchao.quantization.pt2e import move_exported_model_to_eval

    from edgekd.compress.quantization import quantizer

    with _quiet():
        import litert_torch
        from litert_torch.quantize.quant_config import QuantConfig

        module = move_exported_model_to_eval(quantized_module)
        edge = litert_torch.convert(module, (torch.from_numpy(np.ascontiguousarray(sample[:1])),),
                                    quant_config=QuantConfig(pt2e_quantizer=quantizer()))
        edge.export(str(path))


def cast_weights_fp16(fp32_path: Path, path: Path) -> None:
    """Store the weights of a float TFLite model as float16 (ai-edge-quantizer float casting)."""
    with _quiet():
        from ai_edge_quantizer import quantizer, qtyping
        from ai_edge_quantizer.algorithm_manager import AlgorithmName

        fp16 = qtyping.OpQuantizationConfig(
            weight_tensor_config=qtyping.TensorQuantizationConfig(num_bits=16, dtype=qtyping.TensorDataType.FLOAT),
            compute_precision=qtyping.ComputePrecision.FLOAT, explicit_dequantize=True)
        casting = quantizer.Quantizer(str(fp32_path))
        casting.update_quantization_recipe(regex=".*", operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
                                           op_config=fp16, algorithm_key=AlgorithmName.FLOAT_CASTING)
        casting.quantize().export_model(str(path), overwrite=True)


@contextlib.contextmanager
def _quiet():
    """litert-torch and ai-edge-quantizer print progress lines and absl logs for every conversion."""
    loggers = [logging.getLogger(name) for name in ("", "absl", "litert_torch")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
