"""What a training step asks of the cached teacher: its view of each sample, soft targets, features."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from edgekd.kd.losses import embedding_kd_loss, hinton_kd_loss, topk_kd_loss
from edgekd.kd.views import apply_views

# Columns up to this size are copied into memory once (indexing a tensor is faster than gathering
# from memory maps); bigger caches are read from the shards batch by batch.
PRELOAD_BYTES = 1 << 30


@dataclass
class Selection:
    """The samples of one batch and, with an augmented cache, which stored view of each."""

    index: torch.Tensor
    view: torch.Tensor | None = None


class CachedTargets:
    """Training targets read from an opened cache (see `teacher_cache`)."""

    def __init__(self, index: dict, columns: dict):
        self.index = index
        self.views = index["views"]
        self.layout = index["layout"]
        self._columns = {name: _Rows(column) for name, column in columns.items()}

    def __len__(self) -> int:
        return self.index["count"]

    @property
    def feature_layers(self) -> dict[str, tuple[int, ...]]:
        return {name: tuple(shape) for name, shape in self.index["features"].items()}

    def rows(self, column: str, selection: Selection) -> torch.Tensor:
        rows = self._columns[column].take(selection.index)
        if selection.view is not None:
            rows = rows[torch.arange(len(rows)), selection.view]
        return rows

    def select(self, index: torch.Tensor, generator: np.random.Generator) -> Selection:
        """Pick one stored view per sample at random (none for a cache of plain images)."""
        if self.views is None:
            return Selection(index)
        return Selection(index, torch.from_numpy(generator.integers(0, self.views["views"], size=len(index))))

    def inputs(self, images: torch.Tensor, selection: Selection) -> torch.Tensor:
        """The batch exactly as the teacher saw it: the stored views replayed on the plain images."""
        if selection.view is None:
            return images[selection.index]
        if self.views.get("kind") == "text":  # the edited token rows themselves are stored
            return self.rows("view_tokens", selection).to(images.dtype)
        batch = images[selection.index]
        params = self.rows("view_params", selection)
        return apply_views(batch, params, self.views["pad"], self.views["fill"])

    def loss(self, student_logits, selection: Selection, labels, temperature: float, alpha: float) -> torch.Tensor:
        if self.layout == "full":
            return hinton_kd_loss(student_logits, self.rows("logits", selection), labels, temperature, alpha)
        return topk_kd_loss(student_logits, self.rows("topk_log_probs", selection),
                            self.rows("topk_indices", selection), labels, temperature, alpha,
                            rest_mass=self.rows("topk_rest_mass", selection))

    def embedding_loss(self, student_vectors, selection: Selection) -> torch.Tensor:
        """Regress the cached teacher vectors (an embedder's outputs, cached as a full "logits" column)."""
        if self.layout != "full":
            from edgekd.errors import ConfigError

            raise ConfigError("embedding distillation needs the full teacher vectors: remove `topk` from the cache")
        return embedding_kd_loss(student_vectors, self.rows("logits", selection))

    def features(self, layer: str, selection: Selection) -> torch.Tensor:
        return self.rows(f"features.{layer}", selection)


class _Rows:
    """One column, in memory as a float32/int64 tensor when small enough, else gathered per batch."""

    def __init__(self, column):
        self.column = column
        nbytes = int(np.prod(column.shape)) * column.dtype.itemsize
        self.tensor = _as_tensor(column.load()) if nbytes <= PRELOAD_BYTES else None

    def take(self, index: torch.Tensor) -> torch.Tensor:
        if self.tensor is not None:
            return self.tensor[index]
        return _as_tensor(self.column.gather(index.numpy()))


def _as_tensor(array: np.ndarray) -> torch.Tensor:
    if array.dtype.kind == "f":
        return torch.from_numpy(np.asarray(array, dtype=np.float32))
    return torch.from_numpy(np.asarray(array, dtype=np.int64))
