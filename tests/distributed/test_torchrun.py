"""Two processes on one machine (torchrun, gloo on CPU): the sharded cache is byte-identical to one
process's, and DDP distillation and QAT converge with artifacts written once."""

import json
import subprocess
import sys

import yaml

from edgekd.config import parse_config
from edgekd.pipeline import run

PIPELINE = {
    "name": "ddp", "seed": 0, "threads": 1,  # equal thread counts: float sums must match bit for bit
    "data": {"train_subset": 6000, "test_subset": 500},
    "stages": [
        {"type": "teacher", "checkpoint": "models/fmnist_teacher.safetensors"},
        {"type": "cache", "shard_rows": 1000},
        {"type": "distill", "train": {"epochs": 3}, "baseline_seeds": []},
        {"type": "qat", "train": {"epochs": 1, "lr": 0.005}, "calibration_samples": 128},
    ],
}


def _files(artifact):
    return {name: record["sha256"] for name, record in artifact.manifest["files"].items()}


def test_two_processes_match_one(tmp_path):
    config_path = tmp_path / "ddp.yaml"
    config_path.write_text(yaml.safe_dump({**PIPELINE, "artifacts_dir": str(tmp_path / "two")}))
    launched = subprocess.run([sys.executable, "-m", "edgekd", "run", str(config_path), "--nproc", "2"],
                              capture_output=True, text=True, timeout=600)
    assert launched.returncode == 0, launched.stdout[-3000:] + launched.stderr[-3000:]
    single = run(parse_config({**PIPELINE, "artifacts_dir": str(tmp_path / "one")}))

    two = {path.name.split("-")[0]: path for path in (tmp_path / "two").iterdir() if not path.name.startswith(".")}
    assert sorted(two) == ["cache", "distill", "qat", "teacher"], "each artifact is written once, by rank 0"
    manifest = {name: json.loads((path / "manifest.json").read_text()) for name, path in two.items()}
    cache_files = {name: r["sha256"] for name, r in manifest["cache"]["files"].items()}
    assert len([n for n in cache_files if n.endswith(".npy")]) == 6
    assert cache_files == _files(single.artifacts["cache"]), "sharded cache differs from the single-process one"
    assert manifest["distill"]["metrics"]["accuracy"] > 0.7
    assert abs(manifest["distill"]["metrics"]["accuracy"] - single.artifacts["distill"].metrics["accuracy"]) < 0.05
    qat = manifest["qat"]["metrics"]  # fake-quant ranges under DDP follow rank 0's buffers
    assert abs(qat["accuracy"] - single.artifacts["qat"].metrics["accuracy"]) < 0.05
    assert qat["accuracy"] > qat["fp32_accuracy"] - 0.05
    assert not (tmp_path / "two" / ".resume").exists() or not any((tmp_path / "two" / ".resume").iterdir())
