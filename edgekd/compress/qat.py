"""Quantisation-aware training through PT2E: the same Q/DQ program PTQ makes, with ranges learned.

Route (torchao 0.18 on the pinned torch): fold batch norm into the convolutions, `torch.export` the
float model, insert fake-quantise modules with `prepare_qat_pt2e`, fine-tune (the trainer drives it
like any module), freeze the ranges, and `convert_pt2e` to the quantised program both exporters take.

Why BN is folded first instead of simulated during training: litert-torch's quantiser, asked for QAT,
builds its conv+BN match patterns with a `torch.export` call that fails on a plain function in this
torchao, and a fine-tune that starts from a converged student loses nothing by freezing BN (standard
practice is to freeze BN statistics for the last QAT epochs anyway). With BN folded the graph is
conv(+bias) → ReLU, the quantiser's static patterns annotate it exactly as for PTQ, and the exported
int8 model is the one that was trained.

The quantisation scheme is PTQ's (symmetric per-channel int8 weights in [-127, 127], per-tensor affine
int8 activations); only the observers change into fake-quantisers with moving-average ranges.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from edgekd.compress.quantization import export_program  # also sets the torchao environment before its import

EPS = 2**-12  # the smallest scale, as in the PTQ quantiser


def qat_quantizer():
    """PTQ's quantiser with every observer replaced by a fake-quantiser that tracks moving ranges."""
    import dataclasses

    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
    from torchao.quantization.pt2e import (FakeQuantize, MovingAverageMinMaxObserver,
                                           MovingAveragePerChannelMinMaxObserver)

    base = get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False)  # lru-cached: copy, never mutate
    activation = dataclasses.replace(
        base.input_activation,
        observer_or_fake_quant_ctr=FakeQuantize.with_args(observer=MovingAverageMinMaxObserver, eps=EPS))
    weight = dataclasses.replace(
        base.weight,
        observer_or_fake_quant_ctr=FakeQuantize.with_args(observer=MovingAveragePerChannelMinMaxObserver, eps=EPS))
    config = dataclasses.replace(base, input_activation=activation, output_activation=activation, weight=weight)
    return PT2EQuantizer().set_global(config)


def fold_batch_norm(model):
    """A copy of `model` (eval mode) with every Conv2d directly followed by a BatchNorm2d (siblings in
    the same container, as in a Sequential or timm's blocks) folded into the conv."""
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    folded = copy.deepcopy(model).eval()
    for parent in list(folded.modules()):
        children = list(parent.named_children())
        for (conv_name, conv), (bn_name, bn) in zip(children, children[1:]):
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                setattr(parent, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(parent, bn_name, _what_follows_batch_norm(bn))
    return folded


def _what_follows_batch_norm(bn):
    """What is left of a BN once folded: nothing, or for timm's BatchNormAct2d (a BatchNorm2d that
    also applies dropout and its activation) that dropout and activation."""
    from torch import nn

    tail = [m for m in (getattr(bn, "drop", None), getattr(bn, "act", None)) if m is not None]
    return nn.Sequential(*tail) if tail else nn.Identity()


def prepare(model, sample: np.ndarray):
    """Folded, exported, fake-quantised copy of `model`, ready to train.

    The returned graph module answers `.train()` / `.eval()`, so the ordinary training loop drives it
    (see `_train_eval_modes`).
    """
    from torchao.quantization.pt2e.quantize_pt2e import prepare_qat_pt2e

    # Export in train mode: an eval-mode program would keep dropout off during fine-tuning.
    program = export_program(fold_batch_norm(model).train(), sample)
    prepared = prepare_qat_pt2e(program.module(), qat_quantizer())
    _train_eval_modes(prepared)
    return prepared


def _train_eval_modes(prepared) -> None:
    """`.train()` / `.eval()` for the exported graph: torchao switches its dropout and BN ops, and here
    eval also stops the fake-quantisers' range tracking (train restarts it), as BN's running
    statistics behave. Scoring the model, on test images say, must never move its int8 ranges: with
    the observers on, every forward pass updates the moving min/max."""
    import types

    from torch import nn
    from torchao.quantization.pt2e import (disable_observer, enable_observer, move_exported_model_to_eval,
                                           move_exported_model_to_train)

    def train(self, mode: bool = True):
        (move_exported_model_to_train if mode else move_exported_model_to_eval)(self)
        self.apply(enable_observer if mode else disable_observer)
        return nn.Module.train(self, mode)  # the `training` flags, for code that reads them

    def eval(self):
        return train(self, False)

    prepared.train = types.MethodType(train, prepared)
    prepared.eval = types.MethodType(eval, prepared)


def freeze(prepared):
    """Stop range tracking: from here on the fake-quantisers use the learned scales as constants."""
    return prepared.eval()


def convert(prepared):
    """Frozen prepared module → quantised Q/DQ program (weights not folded, as litert-torch wants)."""
    from edgekd.compress.quantization import convert as convert_pt2e

    return convert_pt2e(copy.deepcopy(freeze(prepared)))


def save(prepared, path: Path) -> None:
    """Weights and fake-quantiser state as safetensors (see quantization.save_calibration)."""
    from edgekd.compress.quantization import save_calibration

    save_calibration(prepared, path)


def load(model, path: Path, sample: np.ndarray):
    """Rebuild the quantised program of a QAT run from the source `model` and its saved state."""
    from safetensors.torch import load_file

    prepared = prepare(model, sample)
    prepared.load_state_dict(load_file(str(path)), strict=True)
    return convert(prepared)
