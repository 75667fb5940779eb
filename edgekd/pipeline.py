"""Run a pipeline: for each stage resolve its artifact id, reuse the artifact if present, else run it."""

from __future__ import annotations

import errno
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from edgekd import __version__
from edgekd.artifacts import Artifact, ArtifactStore, artifact_id
from edgekd.config import PipelineConfig
from edgekd.context import DataSource, RunContext
from edgekd.errors import ArtifactError, EdgeKDError

RESUME_DIR = ".resume"
THREADS_ENV = "EDGEKD_THREADS"
DATA_CACHE_DIR = ".data"
LOW_SPACE_BYTES = 1 << 20
# Errors that mean "the artifact store cannot take this write", not a bug in a stage.
STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


@dataclass
class StageOutcome:
    name: str
    type: str
    artifact: Artifact
    reused: bool
    seconds: float


@dataclass
class RunResult:
    """What a run produced: one outcome per stage, in order."""

    config: PipelineConfig
    outcomes: list[StageOutcome] = field(default_factory=list)

    @property
    def artifacts(self) -> dict[str, Artifact]:
        return {o.name: o.artifact for o in self.outcomes}

    @property
    def all_reused(self) -> bool:
        return all(o.reused for o in self.outcomes)

    @property
    def partial_failures(self) -> list[str]:
        """Stages that finished but report rows that failed (an export a converter refused, say)."""
        return [o.name for o in self.outcomes if o.artifact.metrics.get("failures")]


def run(config: PipelineConfig, console: Console | None = None) -> RunResult:
    """Run every stage in order; each one's id chains on the previous one's, rooted at the data.

    Under torchrun every rank runs this; see `edgekd.distributed` for who does what."""
    from edgekd.distributed import barrier, broadcast_from_main, current_world, init_process_group
    from edgekd.quiet import quiet_third_party
    from edgekd.stages import STAGES

    quiet_third_party()
    world = current_world()
    init_process_group(world)
    console = console or Console(quiet=not world.is_main)
    store = ArtifactStore(config.artifacts_dir)
    if world.is_main:
        store.clean_temporaries()
    barrier(world)
    data = DataSource(config.data, cache_dir=store.root / DATA_CACHE_DIR)  # decoded images live by the artifacts
    ctx = RunContext(config=config, data=data, console=console, world=world)
    parent_id = f"data:{ctx.data.fingerprint}"
    result = RunResult(config=config)
    rerun_rest = False  # set once a stage runs again because its last run left failed rows
    for stage_config in config.stages:
        stage = STAGES[stage_config.type]()
        name = stage_config.stage_name
        settings = stage_config.model_dump(mode="json", exclude={"name"})
        aid = artifact_id(stage.type, settings, parent_id, __version__, stage.inputs(stage_config, ctx))
        started = time.perf_counter()
        # Rank 0 looks first: finding a damaged artifact moves it aside, which must happen once.
        artifact = store.find(name, aid) if world.is_main and not rerun_rest else None
        if artifact is not None and artifact.metrics.get("failures"):
            # A failed row may have been the environment's doing (a converter missing, a disk
            # full), so it is tried again rather than kept. The stages after it read its files,
            # which may now differ under the same id, so they run again too.
            console.print(f"[yellow]{name}: its last run left failed rows "
                          f"({', '.join(artifact.metrics['failures'])}); running it again[/]")
            artifact, rerun_rest = None, True  # only rank 0 reads it: the others never look
        reused = broadcast_from_main(world, artifact is not None)
        if not reused:
            console.rule(f"[bold]{name}[/] ({stage.type})")
            _set_threads(config.threads, world.local_size)
            resume_dir = store.root / RESUME_DIR / f"{name}-{aid}"
            if world.is_main:
                artifact = _run_stage(store, stage, stage_config, ctx, name, aid, parent_id, settings, resume_dir)
            elif stage.distributed:
                _run_helper_rank(stage, stage_config, ctx, resume_dir)
            barrier(world)
            if world.is_main:
                shutil.rmtree(resume_dir, ignore_errors=True)
        else:
            console.print(f"[dim]{name}: reusing {artifact.path}[/]")
        if artifact is None:  # a helper rank: read what rank 0 wrote
            artifact = store.find(name, aid)
        ctx.artifacts[name] = artifact
        ctx.stage_types[name] = stage.type
        result.outcomes.append(StageOutcome(name, stage.type, artifact, reused, time.perf_counter() - started))
        parent_id = aid
    return result


def _run_stage(store, stage, stage_config, ctx, name, aid, parent_id, settings, resume_dir) -> Artifact:
    pending = store.begin(name, aid)
    # Keyed by the artifact id: only a run with exactly the same inputs picks up where one stopped.
    ctx.resume_dir = resume_dir
    try:
        metrics = stage.run(stage_config, ctx, pending.tmp_path)
        manifest: dict[str, Any] = {
            "stage": stage.type, "name": name, "parent": parent_id, "config": settings,
            "version": __version__, "metrics": metrics,
        }
        return store.commit(pending, manifest)
    except Exception as exc:
        # Native writers (safetensors, converters) report a full disk in their own words; a
        # nearly empty filesystem at the moment of failure says what really happened.
        full = _storage_problem(exc, store.root)
        store.abort(pending)
        if full:
            raise ArtifactError(f"{name}: cannot write its artifact in {store.root}: {full}; "
                                "nothing was kept from this stage, earlier artifacts are intact") from exc
        raise
    except BaseException:
        store.abort(pending)
        raise
    finally:
        ctx.resume_dir = None


def _run_helper_rank(stage, stage_config, ctx, resume_dir) -> None:
    """A rank other than 0 does its share of a distributed stage; what it writes in `out` is dropped."""
    import tempfile

    ctx.resume_dir = resume_dir
    try:
        with tempfile.TemporaryDirectory(prefix="edgekd-rank-") as out:
            stage.run(stage_config, ctx, Path(out))
    finally:
        ctx.resume_dir = None


def _storage_problem(exc: Exception, root) -> str | None:
    """What went wrong with the disk, if the failure was the disk's: errno, or no space left."""
    if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
        return exc.strerror or str(exc)
    if isinstance(exc, EdgeKDError):  # already says what is wrong, in the user's terms
        return None
    if any(sign in str(exc) for sign in ("No space left on device", "os error 28", "Disk quota exceeded")):
        return f"No space left on device ({type(exc).__name__}: {exc})"
    free = shutil.disk_usage(root).free
    if free < LOW_SPACE_BYTES:
        return f"No space left on device ({free:,} bytes free; {type(exc).__name__}: {exc})"
    return None


def _set_threads(threads: int | None, processes: int = 1) -> None:
    """Same thread count for every stage, whatever ran before in this process (bench times with one
    thread): float sums depend on it, and seeded training is bit-identical only at equal counts.
    By default the cores are shared among the processes on this machine; $EDGEKD_THREADS sets the
    default for a machine shared some other way (parallel test workers, say)."""
    import torch

    default = int(os.environ.get(THREADS_ENV, "0") or 0) or max(1, (os.cpu_count() or 1) // processes)
    torch.set_num_threads(threads or default)
