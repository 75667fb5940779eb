"""Which distillation method wins on Fashion-MNIST: the results table of benchmarks/README.md.

    .venv/bin/python benchmarks/kd_results.py [--epochs 4] [--seeds 0 1 2]

Same student (`fmnist_student`), same epochs, schedule and seeds for every method; the teacher is the
shipped `fmnist_teacher`. Methods: `ce` (labels only), `kd_full` (Hinton KD from the fp16 full-logit
cache), `kd_topk` (the same from a top-3 cache), `feature` (labels + FitNets hint on the penultimate
layer), `kd_feature` (Hinton KD + the hint). Caches are built once with the library's own cache code.
Writes benchmarks/results/kd_results.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from benchmarks.machine import describe_machine  # noqa: E402
from edgekd.models.checkpoints import load_model  # noqa: E402
from edgekd.data.fashion_mnist import load_split, normalize  # noqa: E402
from edgekd.kd.feature_kd import FeatureTerms, HintTerm  # noqa: E402
from edgekd.kd.teacher_cache import CacheSpec, Teacher, build_cache, open_cache  # noqa: E402
from edgekd.kd.trainer import Recipe, train  # noqa: E402
from edgekd.model_artifacts import accuracy, torch_logits  # noqa: E402
from edgekd.zoo import build_model  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "kd_results.json"
HINT = HintTerm(student_layer="classifier.2", teacher_layer="classifier.3", weight=1.0)
# method -> (cache, alpha, hint)
METHODS = {"ce": (None, 0.0, False), "kd_full": ("full", 0.5, False), "kd_topk": ("topk", 0.5, False),
           "feature": ("full", 0.0, True), "kd_feature": ("full", 0.5, True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--temperature", type=float, default=4.0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    started = time.perf_counter()
    train_split, test_split = load_split("train"), load_split("test")
    inputs, labels = normalize(train_split.images), train_split.labels
    test_inputs = normalize(test_split.images)
    teacher = load_model("fmnist_teacher", ROOT / "models" / "fmnist_teacher.safetensors").eval()
    teacher_accuracy = accuracy(torch_logits(teacher, test_inputs), test_split.labels)
    console = Console()
    with tempfile.TemporaryDirectory() as scratch:
        caches = {}
        for name, spec in {"full": CacheSpec(num_classes=10, features={"classifier.3": (256,)}),
                           "topk": CacheSpec(num_classes=10, topk=3)}.items():
            folder = Path(scratch) / name
            folder.mkdir()
            build_cache(folder, spec, [Teacher(teacher)], inputs, name, 16384, 512)
            caches[name] = open_cache(folder, name, len(inputs))
        methods = {}
        for method, (cache, alpha, hint) in METHODS.items():
            scores = []
            for seed in args.seeds:
                torch.manual_seed(seed)
                student = build_model("fmnist_student")
                targets = caches[cache] if cache else None
                terms = (FeatureTerms(student, [HINT], [], targets.feature_layers, torch.from_numpy(inputs[:1]))
                         if hint else None)
                recipe = Recipe(epochs=args.epochs, temperature=args.temperature, alpha=alpha)
                train(student, inputs, labels, targets, recipe, seed, console, label=f"{method} seed {seed}",
                      feature_terms=terms)
                scores.append(accuracy(torch_logits(student, test_inputs), test_split.labels))
                console.print(f"{method} seed {seed}: {scores[-1]:.4f}")
            methods[method] = {"mean": statistics.fmean(scores), "std": statistics.stdev(scores) if len(scores) > 1 else 0.0,
                               "seeds": args.seeds, "accuracies": scores}
    result = {"machine": describe_machine(), "epochs": args.epochs, "temperature": args.temperature,
              "alpha_kd": 0.5, "hint": HINT.__dict__, "teacher_accuracy": teacher_accuracy, "methods": methods,
              "kd_beats_ce": methods["kd_full"]["mean"] > methods["ce"]["mean"],
              "topk_minus_full_pt": 100 * (methods["kd_topk"]["mean"] - methods["kd_full"]["mean"]),
              "seconds": time.perf_counter() - started}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for method, summary in methods.items():
        print(f"{method:11s} {100 * summary['mean']:.2f} ± {100 * summary['std']:.2f}")
    print(f"teacher     {100 * teacher_accuracy:.2f}   ({result['seconds'] / 60:.1f} min) wrote {args.out}")


if __name__ == "__main__":
    main()
