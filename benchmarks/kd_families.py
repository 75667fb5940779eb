"""The distillation families side by side on Fashion-MNIST, same student, same epochs, 3 seeds each.

    .venv/bin/python benchmarks/kd_families.py [--epochs 4] [--seeds 0 1 2]

Each family runs as a real pipeline (artifacts in artifacts/, so a second run reuses them):
- `ce` and `kd`: the quickstart's teacher -> cache -> distill stages (cached response KD, and the
  same student with cross-entropy alone);
- `mutual`: deep mutual learning, two peers from scratch, no teacher (the `mutual` stage) at
  `--mutual-epochs`, with its own CE-only runs at those epochs; the figure is peer 0, the one a
  pipeline exports.
- `data_free`: the shipped teacher -> `synthesize` (DeepInversion, `--synthetic` images, one set
  from seed 0) -> cache (`--data-free-views` crops and flips of each) -> distill, never reading the
  real training split; the spread is over the student's seeds on that one set. Few images need more
  passes: `--data-free-epochs` (100 passes over 2,048 images are fewer steps than 4 over 60,000).
- `self_distill_deepest` and `self_distill_exits`: pipelines/self_distill.yaml's stage (heads after
  both conv blocks); every exit as a standalone network, with params and ONNX Runtime latency.
- `online_over_measured_bound`: read from benchmarks/results/kd_throughput.json (run that first).
- `cross_input_lowres`: the quickstart teacher reads 28×28, the student a 14×14 (and, as
  `cross_input_lowres_7x7`, a 7×7) area-downsampled view; KD vs the same small-input student with CE.
- `cross_input_channels`: pipelines/cross_input_sensor.yaml's teacher, cache and distill: the
  JapaneseVowels teacher reads 12 channels, the student 4; KD vs the same 4-channel student with CE.
Writes benchmarks/results/kd_families.json: `methods.<family>` = {mean, std, seeds, accuracies}
plus the stage's wall time.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe_machine  # noqa: E402
import yaml  # noqa: E402

from edgekd.config import parse_config  # noqa: E402
from edgekd.pipeline import run  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "kd_families.json"
TEACHER = {"type": "teacher", "model": "fmnist_teacher", "checkpoint": str(ROOT / "models/fmnist_teacher.safetensors")}


def _pipeline(name: str, stages: list[dict]) -> dict:
    return {"name": name, "artifacts_dir": str(ROOT / "artifacts"), "seed": 0,
            "data": {"dataset": "fashion_mnist"}, "stages": stages}


def _timed(result, stage: str) -> dict:
    outcome = next(o for o in result.outcomes if o.name == stage)
    return {"seconds": round(outcome.seconds, 1), "reused": outcome.reused}


def _kd_and_ce(result, stage: str = "distill") -> dict:
    found = result.artifacts[stage].metrics["kd_vs_ce"]
    return {"kd": found["kd"], "ce": found["ce"], "wall": _timed(result, stage)}


def low_resolution(size: int, train: dict, seeds: list[int]) -> dict:
    """KD vs CE for a student reading the images area-downsampled to size×size."""
    result = run(parse_config(_pipeline(f"kd_families_lowres{size}", [
        TEACHER, {"type": "cache", "dtype": "float16"},
        {"type": "distill", "student": {"name": "fmnist_student", "input_transform": {"resize": [size, size]}},
         "train": {**train, "temperature": 4.0, "alpha": 0.5}, "baseline_seeds": seeds},
    ])))
    student = result.artifacts["distill"].metrics
    return {**_kd_and_ce(result), "student_input": student["input_spec"]["shape"], "params": student["params"]}


def channel_subset(seeds: list[int]) -> dict:
    """pipelines/cross_input_sensor.yaml up to distill: a 4-channel student of a 12-channel teacher."""
    raw = yaml.safe_load((ROOT / "pipelines" / "cross_input_sensor.yaml").read_text())
    stages = [stage for stage in raw["stages"] if stage["type"] in ("teacher", "cache", "distill")]
    for stage in stages:
        if stage["type"] == "distill":
            stage["baseline_seeds"] = seeds
    raw.update(artifacts_dir=str(ROOT / "artifacts"), stages=stages)
    raw["data"]["path"] = str(ROOT / raw["data"]["path"])
    result = run(parse_config(raw))
    student = result.artifacts["distill"].metrics
    return {**_kd_and_ce(result), "dataset": "aeon JapaneseVowels (12 channels x 25 frames, 9 classes)",
            "student_channels": student["model_spec"]["input_transform"]["channels"],
            "teacher_accuracy": result.artifacts["teacher"].metrics["accuracy"],
            "pipeline": "pipelines/cross_input_sensor.yaml"}


def self_distillation(train: dict, seeds: list[int]):
    """pipelines/self_distill.yaml's stage: exits after both conv blocks, every exit scored."""
    raw = yaml.safe_load((ROOT / "pipelines" / "self_distill.yaml").read_text())
    stage = next(stage for stage in raw["stages"] if stage["type"] == "self_distill")
    stage.update(baseline_seeds=seeds, ce_baseline=False, train={**stage["train"], **train})
    return run(parse_config(_pipeline("kd_families_self_distill", [stage])))


def _throughput() -> dict:
    """Issue 3's figures, measured by kd_throughput.py (a timing run of its own, on a quiet machine)."""
    measured = json.loads((ROOT / "benchmarks" / "results" / "kd_throughput.json").read_text())
    keys = ("online_over_measured_bound", "measured_bound", "online_over_cached_speedup", "cached_over_ce_epoch_ratio")
    return {**{key: measured.get(key) for key in keys}, "source": "benchmarks/results/kd_throughput.json"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--synthetic", type=int, default=2048, help="DeepInversion images for data-free KD")
    parser.add_argument("--data-free-epochs", type=int, default=100)
    parser.add_argument("--data-free-views", type=int, default=16, help="cached crops/flips per synthetic image")
    parser.add_argument("--mutual-epochs", type=int, default=10)
    args = parser.parse_args()
    train = {"epochs": args.epochs, "batch_size": 128, "lr": 0.05}

    teacher = TEACHER
    distilled = run(parse_config(_pipeline("kd_families_kd", [
        teacher,
        {"type": "cache", "dtype": "float16"},
        {"type": "distill", "student": "fmnist_student",
         "train": {**train, "temperature": 4.0, "alpha": 0.5}, "baseline_seeds": args.seeds},
    ])))
    mutual = run(parse_config(_pipeline("kd_families_mutual", [
        {"type": "mutual", "student": "fmnist_student", "peers": 2, "baseline_seeds": args.seeds,
         "train": {**train, "epochs": args.mutual_epochs, "temperature": 1.0, "alpha": 1.0}},
    ])))
    data_free = run(parse_config(_pipeline("kd_families_data_free", [
        teacher,
        {"type": "synthesize", "samples": args.synthetic, "seed": 0},
        {"type": "cache", "dtype": "float16", "views": {"count": args.data_free_views, "pad": 2, "flip": True}},
        {"type": "distill", "student": "fmnist_student", "baseline_seeds": args.seeds, "ce_baseline": False,
         "train": {**train, "epochs": args.data_free_epochs, "temperature": 4.0, "alpha": 0.9}},
    ])))
    self_distilled = self_distillation(train, args.seeds)
    synthetic = data_free.artifacts["synthesize"].metrics
    kd_vs_ce = distilled.artifacts["distill"].metrics["kd_vs_ce"]
    mutual_metrics = mutual.artifacts["mutual"].metrics
    sd_metrics = self_distilled.artifacts["self_distill"].metrics
    results = {
        "machine": describe_machine(),
        "command": "benchmarks/kd_families.py " + " ".join(sys.argv[1:]),
        "dataset": "fashion_mnist (60,000 train, 10,000 test)",
        "student": "fmnist_student",
        "epochs": args.epochs,
        "methods": {
            "ce": kd_vs_ce["ce"],
            "kd": kd_vs_ce["kd"],
            # Mutual learning pays back over longer training: its own CE-only runs at the same epochs.
            "mutual": {**mutual_metrics["mutual_vs_ce"]["mutual"], "peers": 2, "epochs": args.mutual_epochs,
                       "ce_same_epochs": mutual_metrics["mutual_vs_ce"]["ce"],
                       "peer_accuracies_seed0": mutual_metrics["peer_accuracies"]},
            "data_free": {**data_free.artifacts["distill"].metrics["kd_vs_ce"]["kd"],
                          "method": "DeepInversion", "synthetic_images": synthetic["samples"],
                          "synthesis_seconds": round(synthetic["seconds"], 1),
                          "teacher_agrees_with_assigned_class": synthetic["assigned_class_agreement"],
                          "cached_views_per_image": args.data_free_views,
                          "epochs": args.data_free_epochs, "real_training_images_read": 0},
            # The deepest exit of the family trained with its heads, against `ce` (same student,
            # epochs and schedule; the CE runs are the distill stage's).
            "self_distill_deepest": sd_metrics["self_distill_vs_ce"]["self_distill"],
        },
        "self_distill_exits": sd_metrics["exits"],
        "self_distill_exported": {"exit": sd_metrics["export_exit"], "params": sd_metrics["params"],
                                  "accuracy_seed0": sd_metrics["accuracy"]},
        "online_over_measured_bound": _throughput()["online_over_measured_bound"],
        "throughput": _throughput(),
        "cross_input_lowres": {**low_resolution(14, train, args.seeds), "resolution": "14x14"},
        "cross_input_lowres_7x7": {**low_resolution(7, train, args.seeds), "resolution": "7x7"},
        "cross_input_channels": channel_subset(args.seeds),
        "wall": {"distill_stage (kd + ce, all seeds)": _timed(distilled, "distill"),
                 "mutual_stage (all seeds)": _timed(mutual, "mutual"),
                 "synthesize_stage": _timed(data_free, "synthesize"),
                 "data_free_cache_stage": _timed(data_free, "cache"),
                 "data_free_distill_stage (all seeds)": _timed(data_free, "distill"),
                 "self_distill_stage (all seeds)": _timed(self_distilled, "self_distill")},
    }
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    for name, method in results["methods"].items():
        print(f"{name:8s} {100 * method['mean']:.2f} ± {100 * method['std']:.2f} %  seeds {method['seeds']}")
    for record in results["self_distill_exits"]:
        print(f"exit {record['name']:11s} {100 * record['accuracy']:.2f} %  {record['params']:,} params  "
              f"ORT {record.get('ort_ms_p50')} ms")
    for name in ("cross_input_lowres", "cross_input_lowres_7x7", "cross_input_channels"):
        kd, ce = results[name]["kd"], results[name]["ce"]
        print(f"{name}: KD {100 * kd['mean']:.2f} ± {100 * kd['std']:.2f} % vs CE {100 * ce['mean']:.2f} ± "
              f"{100 * ce['std']:.2f} %")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
