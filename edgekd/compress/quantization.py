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

    # A batch-1 example makes torch.export specialise the batch dimension to the constant 1 (and
    # then refuse the dynamic shape), so a single sample is repeated up to the export batch.
    rows = np.concatenate([sample] * EXPORT_BATCH)[:EXPORT_BATCH] if len(sample) < EXPORT_BATCH else sample[:EXPORT_BATCH]
    example = torch.from_numpy(np.ascontiguousarray(rows))
    batch = torch.export.Dim("batch", min=1, max=4096)
    return torch.export.export(module, (example,), dynamic_shapes=({0: batch},))


def calibration_sample(train_inputs: np.ndarray, count: int, seed: int) -> np.ndarray:
    """A fixed, seeded, class-mixed sample of the training set: calibration must not see test data."""
    pick = np.random.default_rng(seed).permutation(len(train_inputs))[:count]
    return train_inputs[np.sort(pick)]


def calibrate(model, calibration: np.ndarray, batch_size: int = 64):
    """Post-training calibration: insert observers and record activation ranges on `calibration`.

    Returns the *prepared* module; `convert` turns it into the Q/DQ program. Its state (weights and
    observer statistics) is what `save_calibration` stores.
    """
    import torch
    from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e

    prepared = prepare_pt2e(export_program(model.eval(), calibration).module(), quantizer())
    with torch.no_grad():
        for start in range(0, len(calibration), batch_size):
            prepared(torch.from_numpy(np.ascontiguousarray(calibration[start:start + batch_size])))
    return prepared


def convert(prepared):
    """Prepared (observed) module -> quantised program with Q/DQ ops, weights not yet folded."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e

    return convert_pt2e(prepared, fold_quantize=False)


def save_calibration(prepared, path: Path) -> None:
    """Store the prepared module's state (weights + observer statistics) as safetensors.

    Unlike a `torch.export.save` archive this is byte-for-byte reproducible (the archive embeds a
    random id and object ids) and loads without pickle. Observers shared by several nodes appear
    under each name, so tensors are cloned before saving.
    """
    from safetensors.torch import save_file

    save_file({k: v.detach().clone().contiguous() for k, v in prepared.state_dict().items()}, str(path))


def load_calibrated(model, path: Path, sample: np.ndarray):
    """Rebuild the quantised program of `model` from a calibration saved by `save_calibration`."""
    from safetensors.torch import load_file
    from torchao.quantization.pt2e.quantize_pt2e import prepare_pt2e

    prepared = prepare_pt2e(export_program(model.eval(), sample).module(), quantizer())
    state = load_file(str(path))
    prepared.load_state_dict(state, strict=True)
    for key, value in state.items():
        if key.endswith(".eps"):  # observers keep eps out of load_state_dict; it sets the smallest scale
            prepared.get_submodule(key.rsplit(".", 1)[0]).eps.copy_(value)
    return convert(prepared)


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
