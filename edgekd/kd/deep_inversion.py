"""DeepInversion (Yin et al., CVPR 2020, arXiv:1912.08795): inputs synthesised from a trained
teacher alone, for data-free distillation.

A batch of random inputs is optimised (Adam) so that the teacher classifies each as its assigned
class and the statistics it induces at every batch-norm layer match that layer's running
statistics, the trace the training data left in the network:

    L = CE(f(x), y) + w_bn · Σ_l (‖μ_l(x) − μ_l‖₂ + ‖σ²_l(x) − σ²_l‖₂) + w_tv · TV(x) + w_l2 · ‖x‖²

TV is the mean absolute difference of neighbouring pixels (the paper's smoothness prior). Random
shifts and flips of the batch each step (the paper's jitter) keep the images from over-fitting one
alignment. Without batch norm there are no statistics to match: such a teacher is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class InversionSettings:
    iterations: int = 300
    lr: float = 0.1
    bn_weight: float = 3.0
    tv_weight: float = 0.1
    l2_weight: float = 1e-4
    jitter: int = 2  # pixels


def batch_norm_layers(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
            and m.running_mean is not None]


def synthesize(teacher: nn.Module, shape: tuple[int, ...], labels: np.ndarray, batch_size: int,
               settings: InversionSettings, seed: int,
               on_batch: Callable[[int], None] | None = None) -> tuple[np.ndarray, dict[str, float]]:
    """Inputs of `shape` (per sample, in the teacher's normalised input space) for `labels`, and the
    last batch's loss terms. Seeded: the same teacher, labels, settings and seed give the same set."""
    teacher = teacher.eval()
    layers = batch_norm_layers(teacher)
    if not layers:
        raise ValueError("DeepInversion matches batch-norm statistics, and this teacher has no batch norm")
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    generator = torch.Generator().manual_seed(seed)
    out, terms = [], {}
    for start in range(0, len(labels), batch_size):
        target = torch.from_numpy(labels[start:start + batch_size].astype(np.int64))
        x = torch.randn((len(target), *shape), generator=generator, requires_grad=True)
        x, terms = _invert(teacher, layers, x, target, settings, generator)
        out.append(x)
        if on_batch is not None:
            on_batch(len(target))
    return np.concatenate(out).astype(np.float32), terms


def _invert(teacher, layers, x, target, settings: InversionSettings, generator):
    statistics: list[tuple[torch.Tensor, torch.Tensor, nn.Module]] = []

    def record(module, inputs, _output):
        batch = inputs[0]
        axes = [0] + list(range(2, batch.dim()))
        statistics.append((batch.mean(axes), batch.var(axes, unbiased=False), module))

    hooks = [layer.register_forward_hook(record) for layer in layers]
    optimizer = torch.optim.Adam([x], lr=settings.lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, settings.iterations)
    try:
        for _ in range(settings.iterations):
            statistics.clear()
            view = _jitter(x, settings.jitter, generator)
            ce = F.cross_entropy(teacher(view), target)
            bn = sum(torch.linalg.vector_norm(mean - m.running_mean) + torch.linalg.vector_norm(var - m.running_var)
                     for mean, var, m in statistics)
            loss = ce + settings.bn_weight * bn + settings.tv_weight * _total_variation(x) + \
                settings.l2_weight * x.pow(2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    finally:
        for hook in hooks:
            hook.remove()
    return x.detach().numpy(), {"ce": float(ce.detach()), "bn": float(bn.detach()), "loss": float(loss.detach())}


def _jitter(x: torch.Tensor, pixels: int, generator: torch.Generator) -> torch.Tensor:
    if x.dim() != 4:
        return x
    if pixels:
        dy, dx = (int(v) for v in torch.randint(-pixels, pixels + 1, (2,), generator=generator))
        x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
    if bool(torch.randint(0, 2, (1,), generator=generator)):
        x = torch.flip(x, dims=(3,))
    return x


def _total_variation(x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 4:
        return (x[:, :, 1:, :] - x[:, :, :-1, :]).abs().mean() + (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().mean()
    if x.dim() == 3:
        return (x[:, :, 1:] - x[:, :, :-1]).abs().mean()
    return x.new_zeros(())
