"""What a running stage can see: the data, earlier artifacts, the console, seeds and threads."""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console

from edgekd.artifacts import Artifact, file_digest
from edgekd.config import PipelineConfig
from edgekd.data.prepare import Dataset
from edgekd.distributed import World
from edgekd.errors import ArtifactError, DataError


class DataSource:
    """Loads the configured data source lazily, once per run: normalised splits (subsets applied),
    the input spec, and a fingerprint of the content that roots every artifact id."""

    def __init__(self, config, cache_dir: Path | str = "artifacts/.data"):
        from edgekd.data.registry import parse_data_config

        self.config = parse_data_config(config)
        self.cache_dir = Path(cache_dir)

    @functools.cached_property
    def raw(self):
        import importlib

        from edgekd.data.registry import DATA_SOURCES

        module = importlib.import_module(DATA_SOURCES[self.config.type][1])
        if "cache_dir" in inspect.signature(module.load).parameters:
            return module.load(self.config, cache_dir=self.cache_dir)
        return module.load(self.config)

    @functools.cached_property
    def fingerprint(self) -> str:
        """Digest of the data's content plus every setting that changes what the model sees (paths
        excluded, so moving a folder keeps its artifacts)."""
        raw = self.raw
        settings = self.config.model_dump(mode="json", exclude={"data_dir", "path", "npy_dir", "root", "train", "test", "tokenizer"})
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
        if raw.files:
            for path in raw.files:
                digest.update(file_digest(path).encode())
        elif raw.content_key:
            digest.update(raw.content_key.encode())
        else:
            for array in (raw.train_x, raw.train_y, raw.test_x, raw.test_y):
                digest.update(hashlib.sha256(np.ascontiguousarray(array).tobytes()).digest())
        return digest.hexdigest()[:16]

    @functools.cached_property
    def _statistics(self):
        from edgekd.data.prepare import statistics

        return statistics(self.raw, self.config)

    @functools.cached_property
    def input_spec(self):
        """Shape, layout, normalisation and class names of what the models are fed."""
        from edgekd.data.prepare import input_spec

        return input_spec(self.raw, *self._statistics)

    @property
    def num_classes(self) -> int:
        return self.input_spec.num_classes

    def split(self, name: str) -> Dataset:
        return self._load(name)

    @functools.lru_cache(maxsize=None)
    def _load(self, name: str) -> Dataset:
        from edgekd.data.prepare import normalise

        if name not in ("train", "test"):
            raise DataError(f"unknown split {name!r}; expected train or test")
        raw = self.raw
        limit = self.config.train_subset if name == "train" else self.config.test_subset
        x, y = (raw.train_x, raw.train_y) if name == "train" else (raw.test_x, raw.test_y)
        return Dataset(inputs=normalise(x[:limit], raw, *self._statistics), labels=np.asarray(y[:limit]),
                       labelled=raw.labelled)


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
