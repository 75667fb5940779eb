"""Run independent training jobs at once, one process per core, each with one thread.

The KD-vs-CE comparison trains the same small student several times (seeds x methods). Small
convolutions use two threads poorly, so on a 2-core machine two one-thread processes finish the
set sooner than one two-thread process running them in turn. Each job writes its result where a
resumed run would find it (the stage's resume folder), so the parent only reads them back, and a
killed run resumes from the jobs that finished.

The processes are spawned, not forked: PyTorch refuses autograd in a child forked from a process
that already ran it with several threads (pytorch wiki "Autograd and Fork"). So each worker
rebuilds its state once, from a picklable description, through a module-level `setup` function.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from typing import Any, Callable, Sequence

from edgekd.errors import EdgeKDError


class ParallelRunError(EdgeKDError):
    """A job failed in its worker process; the message names the job and its error."""


def worker_count(jobs: int) -> int:
    """Processes to use: one per thread this process may use (`edgekd run` gives it its share of
    the cores), at most one per job; 1 means run in this process."""
    import torch

    return max(1, min(jobs, torch.get_num_threads()))


def run_in_processes(jobs: Sequence[Any], work: Callable[[Any], None], setup: Callable[[Any], None],
                     state: Any, workers: int, on_done: Callable[[Any], None] | None = None) -> None:
    """`work(job)` for every job in `workers` spawned one-thread processes, each first running
    `setup(state)`. `work` and `setup` must be module-level functions; `work` leaves its result on
    disk. On a failure the jobs not started are cancelled and the first error is raised: the job's
    own EdgeKDError as it is, anything else as ParallelRunError naming the job."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=(setup, state, os.getpid())) as pool:
        futures = {pool.submit(work, job): job for job in jobs}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in finished:
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    if isinstance(error, EdgeKDError):
                        raise error
                    raise ParallelRunError(f"training job {futures[future]} failed: "
                                           f"{type(error).__name__}: {error}{_hint(error)}") from error
                if on_done is not None:
                    on_done(futures[future])


def _hint(error: BaseException) -> str:
    """A worker that died before its job ran is most often a script without a main guard: spawned
    workers import the script that started them, which then runs the pipeline again."""
    from concurrent.futures.process import BrokenProcessPool

    main = sys.modules.get("__main__")
    if isinstance(error, BrokenProcessPool) and getattr(main, "__file__", None):
        return (f" (if {os.path.basename(main.__file__)} calls edgekd, put the call under "
                "`if __name__ == \"__main__\":`: worker processes import it)")
    return ""


def _start_worker(setup: Callable[[Any], None], state: Any, parent: int) -> None:
    import torch

    _die_with(parent)
    torch.set_num_threads(1)
    setup(state)


def _die_with(parent: int) -> None:
    """Linux: be killed when the parent dies (kill -9 included), so a resumed run never races a
    leftover worker writing the same checkpoint. Elsewhere the pool's own shutdown has to do."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
