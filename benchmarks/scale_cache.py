"""Teacher-cache throughput with 1 vs 2 processes (torchrun, gloo) on this machine.

    .venv/bin/python benchmarks/scale_cache.py [--samples 20000] [--repeats 2]

Each configuration runs under `torchrun --standalone`; every rank builds its share of the shards with
the library's own `build_shards` (the `cache` stage's code), and the time between two barriers —
after start-up, after the last shard — is the build time. Configurations: 1 process × 1 thread,
2 processes × 1 thread, and 1 process × 2 threads (torch's own intra-op parallelism, for reference).
Writes benchmarks/results/scale_cache.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "benchmarks" / "results" / "scale_cache.json"
CONFIGS = [(1, 1), (2, 1), (1, 2)]  # (processes, threads per process)


def worker(samples: int, shard_rows: int, scratch: Path, result: Path) -> None:
    """One rank: build this rank's shards between two barriers; rank 0 writes the timing."""
    import torch
    import torch.distributed as dist

    from edgekd.models.checkpoints import load_model
    from edgekd.data.fashion_mnist import load_split, normalize
    from edgekd.kd.teacher_cache import CacheSpec, Teacher, build_shards

    dist.init_process_group("gloo")
    rank, size = dist.get_rank(), dist.get_world_size()
    torch.set_num_threads(int(os.environ["SCALE_THREADS"]))
    inputs = normalize(load_split("train").images[:samples])
    teacher = Teacher(load_model("fmnist_teacher", ROOT / "models" / "fmnist_teacher.safetensors").eval())
    dist.barrier()
    started = time.perf_counter()
    build_shards(CacheSpec(num_classes=10), [teacher], inputs, "scale", shard_rows, 512, scratch,
                 rank=rank, world_size=size)
    dist.barrier()
    seconds = time.perf_counter() - started
    if rank == 0:
        result.write_text(json.dumps({"seconds": seconds}))
    dist.destroy_process_group()


def measure(processes: int, threads: int, samples: int, shard_rows: int) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        result = Path(scratch) / "result.json"
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
                   __file__, "--worker", "--samples", str(samples), "--shard-rows", str(shard_rows),
                   "--scratch", str(Path(scratch) / "shards"), "--result", str(result)]
        env = {**os.environ, "SCALE_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
        subprocess.run(command, check=True, env=env, capture_output=True)
        return json.loads(result.read_text())["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--shard-rows", type=int, default=2500)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.samples, args.shard_rows, args.scratch, args.result)
        return
    from benchmarks.machine import describe_machine

    seconds: dict[str, list[float]] = {f"{p}proc_x{t}thread": [] for p, t in CONFIGS}
    for _ in range(args.repeats):  # interleaved, so drift on a shared machine hits every configuration
        for processes, threads in CONFIGS:
            value = measure(processes, threads, args.samples, args.shard_rows)
            seconds[f"{processes}proc_x{threads}thread"].append(value)
            print(f"  {processes} process(es) x {threads} thread(s): {args.samples / value:8.0f} samples/s", flush=True)
    throughput = {name: args.samples / statistics.median(values) for name, values in seconds.items()}
    result = {"machine": describe_machine(), "samples": args.samples, "shard_rows": args.shard_rows,
              "repeats": args.repeats, "seconds": seconds, "samples_per_second": throughput,
              "speedup_2proc_over_1proc": throughput["2proc_x1thread"] / throughput["1proc_x1thread"],
              "speedup_2thread_over_1thread": throughput["1proc_x2thread"] / throughput["1proc_x1thread"]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"2 processes over 1: {result['speedup_2proc_over_1proc']:.2f}x; "
          f"2 threads over 1: {result['speedup_2thread_over_1thread']:.2f}x; wrote {args.out}")


if __name__ == "__main__":
    main()
