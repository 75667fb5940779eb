"""How much the teacher cache saves, and what a top-k cache costs in size and in loss error.

    .venv/bin/python benchmarks/kd_throughput.py [--samples 20000] [--repeats 3]

On Fashion-MNIST with the shipped teacher and the quickstart student, the same training loop
(`edgekd.kd.trainer.train`) runs over the same samples three ways, interleaved and repeated:
cross-entropy only, KD from cached fp16 logits, and online KD (teacher forward every step), and the
teacher's forward pass alone over the same batches. `online_over_measured_bound` is online/cached
against its measured bound (CE epoch + teacher forward) / cached epoch. Ratios are of medians
measured in this one run. Then, with 1,000 synthetic classes, a top-k = 10 fp16 cache
is compared with full fp32 logits in size and in loss value. Writes benchmarks/results/kd_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from benchmarks.machine import describe_machine  # noqa: E402
from edgekd.bench.macs import forward_macs  # noqa: E402
from edgekd.models.checkpoints import load_model  # noqa: E402
from edgekd.data.fashion_mnist import load_split, normalize  # noqa: E402
from edgekd.kd.losses import hinton_kd_loss, topk_kd_loss  # noqa: E402
from edgekd.kd.online_teacher import OnlineTeacher  # noqa: E402
from edgekd.kd.teacher_cache import CacheSpec, Teacher, build_cache, open_cache, topk_rows  # noqa: E402
from edgekd.kd.trainer import Recipe, train  # noqa: E402
from edgekd.zoo import build_model  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "kd_throughput.json"


def time_training(mode: str, teacher, inputs, labels, seed: int = 0) -> float:
    torch.manual_seed(seed)
    student = build_model("fmnist_student")
    quiet = Console(quiet=True)
    started = time.perf_counter()
    train(student, inputs, labels, teacher, Recipe(epochs=1), seed, quiet, label=mode)
    return time.perf_counter() - started


def time_teacher_forward(teacher_model, inputs, batch_size: int = 128, seed: int = 0) -> float:
    """The teacher's share of an online-KD epoch: its forward pass alone over the same batches the
    trainer draws (same size, inference mode and layout as `OnlineTeacher` runs it)."""
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(inputs)))
    images = torch.from_numpy(inputs)
    started = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            teacher_model(images[order[start:start + batch_size]])
    return time.perf_counter() - started


def epoch_ratios(samples: int, repeats: int, scratch: Path) -> dict:
    split = load_split("train")
    inputs, labels = normalize(split.images[:samples]), split.labels[:samples]
    teacher_model = load_model("fmnist_teacher", ROOT / "models" / "fmnist_teacher.safetensors").eval()
    started = time.perf_counter()
    build_cache(scratch, CacheSpec(num_classes=10), [Teacher(teacher_model)], inputs, "bench", 16384, 512)
    cache_seconds = time.perf_counter() - started
    modes = {"ce": None, "cached_kd": open_cache(scratch, "bench", samples), "online_kd": OnlineTeacher(teacher_model)}
    seconds: dict[str, list[float]] = {mode: [] for mode in [*modes, "teacher_forward"]}
    time_training("warm-up", None, inputs[:2048], labels[:2048])
    for _ in range(repeats):
        for mode, teacher in modes.items():
            seconds[mode].append(time_training(mode, teacher, inputs, labels))
            print(f"  {mode:15s} {seconds[mode][-1]:6.2f} s over {samples} samples", flush=True)
        seconds["teacher_forward"].append(time_teacher_forward(teacher_model, inputs))
        print(f"  {'teacher_forward':15s} {seconds['teacher_forward'][-1]:6.2f} s over {samples} samples", flush=True)
    median = {mode: statistics.median(values) for mode, values in seconds.items()}
    # Online KD can at best cost a CE epoch plus the teacher's forward passes; what the cache saves is
    # measured against that, not against the MAC count (which ignores how fast each network runs).
    measured_bound = (median["ce"] + median["teacher_forward"]) / median["cached_kd"]
    example = torch.from_numpy(inputs[:1])
    teacher_macs, student_macs = forward_macs(teacher_model, example), forward_macs(build_model("fmnist_student"), example)
    flop_bound = 1 + teacher_macs / (3 * student_macs)
    speedup = median["online_kd"] / median["cached_kd"]
    return {
        "samples_per_epoch": samples, "repeats": repeats, "seconds": seconds, "median_seconds": median,
        "cache_build_seconds": cache_seconds, "teacher_macs": teacher_macs, "student_macs": student_macs,
        "cached_over_ce_epoch_ratio": median["cached_kd"] / median["ce"],
        "online_over_cached_speedup": speedup, "flop_bound": flop_bound,
        "fraction_of_flop_bound": speedup / flop_bound,
        "measured_bound": measured_bound, "online_over_measured_bound": speedup / measured_bound,
    }


def synthetic_logits(count: int, classes: int, rng: np.random.Generator) -> np.ndarray:
    """ImageNet-like teacher outputs: one confident class, a few plausible ones, a long flat tail."""
    logits = rng.normal(0.0, 1.0, size=(count, classes))
    rows = np.arange(count)[:, None]
    logits[rows, rng.integers(0, classes, size=(count, 5))] += rng.uniform(2.0, 6.0, size=(count, 5))
    logits[rows[:, 0], rng.integers(0, classes, size=count)] += 9.0
    return logits.astype(np.float32)


def topk_comparison(count: int = 4096, classes: int = 1000, k: int = 10) -> dict:
    rng = np.random.default_rng(0)
    teacher = synthetic_logits(count, classes, rng)
    student = torch.from_numpy(teacher + rng.normal(0.0, 2.0, size=teacher.shape).astype(np.float32))
    labels = torch.from_numpy(teacher.argmax(1))
    rows = topk_rows(teacher, k)
    spec = CacheSpec(num_classes=classes, topk=k)
    topk_bytes = sum(column.bytes_per_row for column in spec.columns())
    full_fp32_bytes = 4 * classes
    errors = {}
    for temperature in (1.0, 4.0):
        full = hinton_kd_loss(student, torch.from_numpy(teacher), labels, temperature, 1.0)
        sparse = topk_kd_loss(student, torch.from_numpy(rows["topk_log_probs"].astype(np.float16)),
                              torch.from_numpy(rows["topk_indices"].astype(np.int16)), labels, temperature, 1.0,
                              rest_mass=torch.from_numpy(rows["topk_rest_mass"].astype(np.float16)))
        errors[f"T={temperature:g}"] = {"full_loss": float(full), "topk_loss": float(sparse),
                                        "rel_err": abs(float(sparse) - float(full)) / float(full)}
    return {"classes": classes, "k": k, "samples": count, "topk_bytes_per_sample": topk_bytes,
            "full_fp32_bytes_per_sample": full_fp32_bytes, "topk_size_ratio": full_fp32_bytes / topk_bytes,
            "topk_loss_rel_err": max(e["rel_err"] for e in errors.values()), "topk_loss_by_temperature": errors,
            "teacher_top1_mass_mean": float(np.exp(rows["topk_log_probs"][:, 0]).mean()),
            "rest_mass_mean": float(rows["topk_rest_mass"].mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20000, help="training samples timed per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    import tempfile

    torch.set_num_threads(torch.get_num_threads())
    with tempfile.TemporaryDirectory() as scratch:
        result = {"machine": describe_machine(), **epoch_ratios(args.samples, args.repeats, Path(scratch))}
    result.update(topk_comparison())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for key in ("cached_over_ce_epoch_ratio", "online_over_cached_speedup", "flop_bound", "fraction_of_flop_bound",
                "measured_bound", "online_over_measured_bound", "topk_size_ratio", "topk_loss_rel_err"):
        print(f"{key:28s} {result[key]:.4f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
