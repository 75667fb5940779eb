"""Static int8 quantisation through PyTorch 2 export (PT2E), shared by PTQ and, later, QAT.

One quantised program feeds both exporters: ONNX (QuantizeLinear/DequantizeLinear pairs that ONNX
Runtime fuses into integer kernels) and TFLite (litert-torch turns the same Q/DQ graph into a
full-integer model). The quantiser is litert-torch's own PT2E quantiser, configured the way TFLite
kernels want it: symmetric per-channel int8 weights, per-tensor int8 activations.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

# torchao otherwise tries to load GPU-only kernels at import and warns about each.
os.environ.setdefault("TORCHAO_FORCE_SKIP_LOADING_SO_FILES", "1")

EXPORT_BATCH = 2  # a batch > 1 with a dynamic batch dim; batch-1 tracing specialises the dim away


def quantizer():
    """The PT2E quantiser: int8, symmetric, per-channel weights, static activation ranges."""
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config

    config = get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False)
    return PT2EQuantizer().set_global(config)


def export_program(module, sample: np.ndarray):
    """`torch.export` with a dynamic batch dimension. Put an nn.Module in eval mode first (a
    converted PT2E module refuses `.eval()`, so this does not call it)."""
    import torch

    example = torch.from_numpy(np.ascontiguousarray(sample[:EXPORT_BATCH]))
    batch = torch.export.Dim("batch", min=1, max=4096)
    return torch.export.export(module, (example,), dynamic_shapes=({0: batch},))


def quantize_static(model, calibration: np.ndarray, batch_size: int = 64):
    """Post-training quantisation: observe activation ranges on `calibration`, then convert."""
    import torch
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    prepared = prepare_pt2e(export_program(model.eval(), calibration).module(), quantizer())
    with torch.no_grad():
        for start in range(0, len(calibration), batch_size):
            prepared(torch.from_numpy(np.ascontiguousarray(calibration[start:start + batch_size])))
    return convert_pt2e(prepared, fold_quantize=False)


def save_quantized(module, sample: np.ndarray, path: Path) -> None:
    """Save a converted PT2E module as a `.pt2` archive (JSON graph + raw weights, no pickled code)."""
    import io

    import torch

    # Serialise in memory, then write with Python I/O: a full disk then raises a plain OSError
    # instead of failing inside torch's C++ zip writer, which can abort the process later.
    buffer = io.BytesIO()
    torch.export.save(export_program(module, sample), buffer)
    path.write_bytes(buffer.getvalue())


def load_quantized(path: Path):
    """The quantised module saved by `save_quantized`."""
    import torch

    return torch.export.load(str(path)).module()


def fold_weight_quantization(module):
    """Constant-fold `quantize(weight)` into int8 tensors, in place, so files store int8 weights.

    Converting with `fold_quantize=False` is what litert-torch needs; ONNX wants the folded form, or
    the file keeps float weights and is no smaller than fp32. A float module is returned unchanged.
    """
    import torch
    from torchao.quantization.pt2e.constant_fold import constant_fold
    from torchao.quantization.pt2e.quantize_pt2e import _QUANT_OPS

    if not isinstance(module, torch.fx.GraphModule):
        return module
    constant_fold(module, lambda node: node.op == "call_function" and node.target in _QUANT_OPS)
    return module
