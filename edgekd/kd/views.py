"""Augmentation views that can be replayed exactly (the FKD approach, Shen & Xing, ECCV 2022).

With random augmentation the teacher's logits belong to one particular view of an image. The cache
therefore draws K views per sample, stores each view's parameters (crop offset and flip) beside the
teacher's logits for it, and training rebuilds exactly those views from the parameters, so the student
always sees the image the soft targets were computed on.

The parameters of view v of sample i come from a counter-based hash of (seed, i, v): they do not
depend on batch size, shard size or how many processes build the cache.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

PARAMS = 3  # per view: row offset, column offset, horizontal flip


def view_params(seed: int, samples: np.ndarray, views: int, pad: int, flip: bool) -> np.ndarray:
    """int8 array (len(samples), views, 3): crop offsets in [0, 2·pad] and a flip bit per view."""
    sample = np.asarray(samples, dtype=np.uint64)[:, None]
    view = np.arange(views, dtype=np.uint64)[None, :]
    with np.errstate(over="ignore"):
        bits = _splitmix64(np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
                           ^ (sample << np.uint64(20)) ^ view)
    span = np.uint64(2 * pad + 1)
    params = np.stack([bits % span, (bits >> np.uint64(16)) % span,
                       (bits >> np.uint64(32)) & np.uint64(1 if flip else 0)], axis=-1)
    return params.astype(np.int8)


def apply_views(images: torch.Tensor, params: torch.Tensor | np.ndarray, pad: int, fill: float) -> torch.Tensor:
    """Crop each padded image at its offset and flip it if asked: (n, C, H, W) -> (n, C, H, W)."""
    params = torch.as_tensor(np.asarray(params), dtype=torch.long)
    n, _, height, width = images.shape
    padded = F.pad(images, (pad, pad, pad, pad), value=fill)
    columns = torch.arange(width).expand(n, width)
    columns = torch.where(params[:, 2:3].bool(), columns.flip(1), columns) + params[:, 1:2]
    rows = torch.arange(height)[None, :] + params[:, 0:1]
    batch = torch.arange(n)[:, None, None]
    # padded[b, :, rows[b, i], columns[b, j]] for every b, i, j, channels kept together
    out = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], columns[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()


def _splitmix64(x: np.ndarray) -> np.ndarray:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))
