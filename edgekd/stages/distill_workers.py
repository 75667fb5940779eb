"""The `distill` stage's runs (student and KD-vs-CE baselines) in one-thread worker processes.

Each worker rebuilds the stage's run context once (quiet console, the data, the cached teacher),
then trains the runs it is given through `distill.train_one`, which leaves each result in the
stage's resume folder, where the parent picks it up as a finished run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_SCORE = {"logits": "accuracy", "embedding": "recall@10 against the teacher"}


def train_in_parallel(config, ctx, kwargs, jobs) -> tuple[int, set]:
    """Train the runs not finished yet in one-thread worker processes, one per core, leaving each in
    the resume folder for `train_one` to pick up. Returns the threads a run trains with and the
    runs trained here.

    It takes several runs, several cores and a resume folder to hand results over; under torchrun
    the processes are already the ranks, so runs go one after another there."""
    import json

    import torch

    from edgekd.kd.parallel_runs import run_in_processes, worker_count
    from edgekd.stages.distill import run_label, run_tag

    def finished(job) -> bool:
        tag = run_tag(*job)
        return ctx.resume_path(f"{tag}.json").is_file() and ctx.resume_path(f"{tag}.safetensors").is_file()

    if ctx.world.size > 1 or ctx.resume_dir is None or len(jobs) < 2 or worker_count(len(jobs)) < 2:
        return torch.get_num_threads(), set()
    # Every run of the set trains with one thread, also a lone one left by a killed run: thread
    # counts change float sums, and a resumed run must end with the same weights as an unbroken one.
    todo = [job for job in jobs if not finished(job)]
    if not todo:
        return 1, set()
    workers = worker_count(len(todo))
    ctx.console.print(f"training {len(todo)} students, {workers} at a time (one process and one thread each)")
    _announce_resumed(ctx, todo)

    def done(job) -> None:
        result = json.loads(ctx.resume_path(f"{run_tag(*job)}.json").read_text())
        ctx.console.print(f"{run_label(*job)}: test {_SCORE[config.objective]} {result['accuracy']:.4f}")

    state = {"pipeline": ctx.config, "data": ctx.data.config, "data_cache": str(ctx.data.cache_dir),
             "artifacts": ctx.artifacts, "stage_types": ctx.stage_types, "resume_dir": str(ctx.resume_dir),
             "config": config, "kwargs": kwargs}
    run_in_processes(todo, _worker_train, _worker_setup, state, workers, on_done=done)
    return 1, set(todo)


def _announce_resumed(ctx, todo) -> None:
    """Say which runs a killed run left mid-training: the workers that resume them print to a quiet
    console, and a user should see that the stage resumed rather than started over."""
    from edgekd.kd.train_checkpoint import checkpoint_position
    from edgekd.stages.distill import run_label, run_tag

    for job in todo:
        checkpoint = ctx.resume_path(f"{run_tag(*job)}.ckpt")
        if checkpoint.is_file():
            ctx.console.print(f"{run_label(*job)}: {checkpoint_position(checkpoint).describe()}")


_WORKER: dict[str, Any] = {}  # one worker process's rebuilt run context and cached targets


def _worker_setup(state: dict[str, Any]) -> None:
    """In a worker process: the run context of the stage (quiet), its data and the cached teacher."""
    import io

    from rich.console import Console

    from edgekd.context import DataSource, RunContext
    from edgekd.stages.cache import open_latest_cache

    ctx = RunContext(config=state["pipeline"], data=DataSource(state["data"], cache_dir=state["data_cache"]),
                     console=Console(file=io.StringIO()), artifacts=state["artifacts"],
                     stage_types=state["stage_types"], resume_dir=Path(state["resume_dir"]))
    # The parent has just checked the cache's key and digests: no need to read it all again.
    _WORKER.update(ctx=ctx, config=state["config"], kwargs=state["kwargs"],
                   targets=open_latest_cache(ctx, verify=False))


def _worker_train(job: tuple[int, bool]) -> None:
    from edgekd.stages.distill import train_one

    seed, kd = job
    train_one(_WORKER["config"], _WORKER["ctx"], _WORKER["kwargs"], _WORKER["targets"] if kd else None, seed, kd)
