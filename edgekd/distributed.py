"""Running a pipeline on several processes with PyTorch's own engine (torchrun + torch.distributed).

Launched under `torchrun` (or `edgekd run --nproc N`, which starts torchrun), every process runs
the same pipeline. The stages that know how to split their work (`cache`: each rank computes its
share of the shards; `distill`: DistributedDataParallel) run on every rank; the others run on rank 0
alone. Rank 0 alone writes artifacts; the other ranks wait at a barrier and then read them from the
store. Backend: gloo on CPU, NCCL when CUDA is there.
"""

from __future__ import annotations

import datetime
import os
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def current_world() -> World:
    """This process's place, from the variables torchrun sets (a single process without them)."""
    return World(rank=int(os.environ.get("RANK", 0)), size=int(os.environ.get("WORLD_SIZE", 1)),
                 local_size=int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", 1))))


def init_process_group(world: World) -> None:
    """Join the process group once (no-op for a single process)."""
    if not world.distributed:
        return
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        # Ranks other than 0 wait at a barrier while rank 0 runs a whole single-process stage (an
        # export, teacher training), which can outlast the default 30-minute collective timeout. A rank
        # that fails does not leave the others waiting: torchrun stops the whole group.
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo",
                                timeout=datetime.timedelta(hours=6))


def barrier(world: World) -> None:
    if world.distributed:
        import torch.distributed as dist

        dist.barrier()


def broadcast_from_main(world: World, value):
    """Rank 0's `value`, on every rank."""
    if not world.distributed:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def launch_command(nproc: int, argv: list[str]) -> list[str]:
    """The torchrun command that runs `edgekd <argv>` on `nproc` local processes."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", "edgekd", *argv]
