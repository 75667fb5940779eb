"""Teacher outputs on disk: computed once, read by every training run, never used when stale.

What a cache row holds for one training sample (columns of a `shard_store`):
- `logits` (full layout): the teacher's logits, fp16 by default; with several teachers, the log of
  their weighted mean probability, which is a valid logit vector for the same distribution;
- or the top-k layout: `topk_log_probs` (fp16) and `topk_indices` (int16) of the k most likely
  classes at T = 1 and `topk_rest_mass` (fp16), the probability left to the other classes, which the
  loss spreads evenly over them. With 1,000 classes and k = 10 that is 42 bytes instead of 4,000;
- `features.<layer>` (fp16): a teacher layer's activations, for feature and relation KD;
- with K augmented views: `view_params` (int8, K × 3; image crops and flips) or `view_tokens`
  (int32, K × length; edited texts, `edgekd.kd.text_views`) and every column above once per view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from edgekd.kd.features import capture
from edgekd.kd.shard_store import Column, build_store, open_store, seal_store, shard_ranges
from edgekd.kd.text_views import TextViewPolicy, text_views
from edgekd.kd.views import PARAMS, apply_views, view_params


@dataclass(frozen=True)
class ViewPolicy:
    """K random views per sample: crops of a `pad`-padded image and optional horizontal flips."""

    views: int
    pad: int = 2
    flip: bool = True
    seed: int = 0
    fill: float = 0.0  # the padding value, in normalised units

    def describe(self) -> dict:
        return {"views": self.views, "pad": self.pad, "flip": self.flip, "seed": self.seed, "fill": self.fill}


@dataclass(frozen=True)
class CacheSpec:
    num_classes: int
    dtype: str = "float16"
    topk: int | None = None
    features: dict[str, tuple[int, ...]] = field(default_factory=dict)  # teacher layer -> row shape
    views: ViewPolicy | TextViewPolicy | None = None
    length: int = 0  # tokens per row, for text views' `view_tokens` column
    # Token rows only, for teachers whose outputs ignore trailing padding: run them on rows sorted by
    # length and cut to it (2.2x faster on Rotten Tomatoes reviews padded to 64); None: as given.
    trim_pad_id: int | None = None

    def columns(self) -> list[Column]:
        lead = (self.views.views,) if self.views else ()
        if self.topk is None:
            columns = [Column("logits", self.dtype, (*lead, self.num_classes))]
        else:
            k = min(self.topk, self.num_classes)
            columns = [Column("topk_log_probs", "float16", (*lead, k)), Column("topk_indices", "int16", (*lead, k)),
                       Column("topk_rest_mass", "float16", (*lead, 1))]
        columns += [Column(f"features.{layer}", "float16", (*lead, *shape)) for layer, shape in self.features.items()]
        if isinstance(self.views, TextViewPolicy):
            columns.append(Column("view_tokens", "int32", (self.views.views, self.length)))
        elif self.views:
            columns.append(Column("view_params", "int8", (self.views.views, PARAMS)))
        return columns


@dataclass
class Teacher:
    model: nn.Module
    weight: float = 1.0


def teacher_outputs(teachers: list[Teacher], inputs: torch.Tensor, layers: list[str]) -> dict[str, np.ndarray]:
    """Logits (combined over teachers) and the first teacher's named-layer features for a batch."""
    with torch.inference_mode(), capture(teachers[0].model, layers, "teacher") as captured:
        outputs = [teacher.model(inputs) for teacher in teachers]
        features = {f"features.{name}": captured[name].numpy() for name in layers}
    if len(teachers) == 1:
        logits = outputs[0]
    else:  # log of the weighted mean of the teachers' probabilities
        weights = torch.tensor([t.weight for t in teachers]) / sum(t.weight for t in teachers)
        probs = sum(w * torch.softmax(z, dim=1) for w, z in zip(weights, outputs))
        logits = probs.clamp_min(1e-30).log()
    return {"logits": logits.numpy(), **features}


LENGTH_BUCKET = 64  # rows per trimmed teacher pass


def trimmed_outputs(teachers: list[Teacher], ids: torch.Tensor, layers: list[str], pad_id: int) -> dict[str, np.ndarray]:
    """`teacher_outputs` on token rows grouped by length, each group cut after its last real token,
    returned in the rows' order."""
    real = (ids != pad_id).to(torch.long) * torch.arange(1, ids.shape[1] + 1)
    ends = real.amax(dim=1)  # one past each row's last real token
    order = torch.argsort(ends, stable=True)
    pieces = []
    for first in range(0, len(ids), LENGTH_BUCKET):
        group = order[first:first + LENGTH_BUCKET]
        pieces.append(teacher_outputs(teachers, ids[group, :max(int(ends[group].max()), 1)], layers))
    inverse = torch.argsort(order).numpy()
    return {name: np.concatenate([p[name] for p in pieces])[inverse] for name in pieces[0]}


def _outputs(spec: CacheSpec, teachers: list[Teacher], inputs: torch.Tensor, layers: list[str]) -> dict[str, np.ndarray]:
    if spec.trim_pad_id is None:
        return teacher_outputs(teachers, inputs, layers)
    return trimmed_outputs(teachers, inputs, layers, spec.trim_pad_id)


def rows_for(spec: CacheSpec, teachers: list[Teacher], inputs: np.ndarray, start: int, stop: int,
             batch_size: int) -> dict[str, np.ndarray]:
    """Every cache column for samples [start, stop), computed in batches of `batch_size`."""
    layers = list(spec.features)
    pieces: list[dict[str, np.ndarray]] = []
    for first in range(start, stop, batch_size):
        last = min(first + batch_size, stop)
        images = torch.from_numpy(np.ascontiguousarray(inputs[first:last]))
        if spec.views is None:
            pieces.append(_outputs(spec, teachers, images, layers))
            continue
        policy = spec.views
        if isinstance(policy, TextViewPolicy):  # the edited ids themselves are what training replays
            edited = text_views(inputs[first:last], np.arange(first, last), policy)
            views = [torch.from_numpy(edited[:, v]) for v in range(policy.views)]
            stored = {"view_tokens": edited.astype(np.int32)}
        else:  # crop offsets and flips, from which training rebuilds each view
            params = view_params(policy.seed, np.arange(first, last), policy.views, policy.pad, policy.flip)
            views = [apply_views(images, params[:, v], policy.pad, policy.fill) for v in range(policy.views)]
            stored = {"view_params": params}
        per_view = [_outputs(spec, teachers, view, layers) for view in views]
        piece = {name: np.stack([out[name] for out in per_view], axis=1) for name in per_view[0]}
        pieces.append({**piece, **stored})
    rows = {name: np.concatenate([p[name] for p in pieces]) for name in pieces[0]}
    if spec.topk is not None:
        rows.update(topk_rows(rows.pop("logits"), spec.topk))
    return rows


def topk_rows(logits: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Top-k log-probabilities at T = 1, their class ids and the mass left to the other classes."""
    flat = logits.reshape(-1, logits.shape[-1]).astype(np.float64)
    shifted = flat - flat.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    k = min(k, flat.shape[1])
    indices = np.argsort(-log_probs, axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(log_probs, indices, axis=1)
    rest = np.clip(1.0 - np.exp(top).sum(axis=1, keepdims=True), 0.0, 1.0)
    lead = logits.shape[:-1]
    return {"topk_log_probs": top.reshape(*lead, k), "topk_indices": indices.reshape(*lead, k),
            "topk_rest_mass": rest.reshape(*lead, 1)}


def build_cache(folder: Path, spec: CacheSpec, teachers: list[Teacher], inputs: np.ndarray, key: str,
                shard_rows: int, batch_size: int, scratch: Path | None = None,
                on_rows: Callable[[int], None] | None = None) -> dict:
    """Build (or finish building) the whole cache in `folder`; return its index."""
    scratch = scratch or folder
    build_shards(spec, teachers, inputs, key, shard_rows, batch_size, scratch, on_rows=on_rows)
    return seal_cache(folder, spec, len(inputs), key, shard_rows, scratch)


def build_shards(spec: CacheSpec, teachers: list[Teacher], inputs: np.ndarray, key: str, shard_rows: int,
                 batch_size: int, scratch: Path, rank: int = 0, world_size: int = 1,
                 on_rows: Callable[[int], None] | None = None) -> None:
    """Write this rank's shards (every `world_size`-th, from `rank`) into `scratch`, skipping finished ones.

    A shard's rows depend only on the samples and `batch_size`, not on which rank computes them, so
    the shards of a distributed build are byte-identical to a single process's at equal thread counts."""
    count = len(inputs)
    shards = range(rank, len(shard_ranges(count, shard_rows)), world_size)
    build_store(scratch, spec.columns(), count, shard_rows, key,
                lambda start, stop: rows_for(spec, teachers, inputs, start, stop, batch_size),
                shards=shards, on_rows=on_rows)


def seal_cache(folder: Path, spec: CacheSpec, count: int, key: str, shard_rows: int, scratch: Path) -> dict:
    """Move the finished shards from `scratch` into `folder` and write the index."""
    return seal_store(folder, spec.columns(), count, shard_rows, key, scratch=scratch, extra=describe(spec))


def describe(spec: CacheSpec) -> dict:
    """What the index records about the layout, for `open_cache` and for people."""
    return {"layout": "full" if spec.topk is None else "topk", "k": spec.topk, "num_classes": spec.num_classes,
            "features": {name: list(shape) for name, shape in spec.features.items()},
            "views": None if spec.views is None else spec.views.describe()}


def open_cache(folder: Path, key: str, count: int, verify: bool = True):
    """The cached teacher as training targets, after checking key, shapes and digests."""
    from edgekd.kd.teacher_targets import CachedTargets

    index, columns = open_store(folder, key, count, verify)
    return CachedTargets(index, columns)
