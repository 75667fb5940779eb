"""What a running stage can see: the data, earlier artifacts, the console, seeds and threads."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from edgekd.artifacts import Artifact, file_digest
from edgekd.config import DataConfig, PipelineConfig
from edgekd.distributed import World
from edgekd.errors import ArtifactError


@dataclass
class Dataset:
    """A split as float32 NCHW inputs and int64 labels, already normalised."""

    inputs: Any
    labels: Any

    def __len__(self) -> int:
        return len(self.labels)


class DataSource:
    """Loads the configured dataset lazily, once per run, applying the configured subsets."""

    def __init__(self, config: DataConfig):
        self.config = config

    @functools.cached_property
    def fingerprint(self) -> str:
        """Digest of the data files on disk plus the subset settings: the root of every artifact id."""
        from edgekd.data.fashion_mnist import SPLIT_FILES, _find_file, resolve_data_dir

        folder = resolve_data_dir(self.config.data_dir)
        digest = hashlib.sha256(self.config.model_dump_json(exclude={"data_dir"}).encode())
        for names in SPLIT_FILES.values():
            for name in names:
                digest.update(file_digest(_find_file(folder, name)).encode())
        return digest.hexdigest()[:16]

    def split(self, name: str) -> Dataset:
        return self._load(name)

    @functools.lru_cache(maxsize=None)
    def _load(self, name: str) -> Dataset:
        from edgekd.data.fashion_mnist import load_split, normalize

        split = load_split(name, self.config.data_dir)
        limit = self.config.train_subset if name == "train" else self.config.test_subset
        images, labels = split.images[:limit], split.labels[:limit]
        return Dataset(inputs=normalize(images), labels=labels)


@dataclass
class RunContext:
    """Shared state of one pipeline run, handed to every stage."""

    config: PipelineConfig
    data: DataSource
    console: Console
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    stage_types: dict[str, str] = field(default_factory=dict)
    resume_dir: Path | None = None  # the running stage's scratch that survives a killed run
    world: World = field(default_factory=World)  # this process's rank among torchrun's processes

    @property
    def seed(self) -> int:
        return self.config.seed

    def latest(self, stage_type: str) -> Artifact:
        """The most recent earlier artifact produced by a stage of this type."""
        for name in reversed(list(self.artifacts)):
            if self.stage_types[name] == stage_type:
                return self.artifacts[name]
        raise ArtifactError(f"this stage needs an earlier `{stage_type}` stage in the pipeline")

    def maybe_latest(self, stage_type: str) -> Artifact | None:
        try:
            return self.latest(stage_type)
        except ArtifactError:
            return None

    def resume_path(self, name: str) -> Path | None:
        """A file in the running stage's resume folder (kept across a kill, removed on success)."""
        if self.resume_dir is None:
            return None
        self.resume_dir.mkdir(parents=True, exist_ok=True)
        return self.resume_dir / name
