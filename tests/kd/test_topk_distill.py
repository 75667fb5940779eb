"""Distillation straight from a top-k teacher cache, on a real Fashion-MNIST subset."""

from edgekd.config import parse_config
from edgekd.pipeline import run


def test_distill_from_topk_cache(tmp_path):
    config = parse_config({
        "name": "topk", "artifacts_dir": str(tmp_path / "artifacts"),
        "data": {"train_subset": 4000, "test_subset": 500},
        "stages": [
            {"type": "teacher", "checkpoint": "models/fmnist_teacher.safetensors"},
            {"type": "cache", "topk": 3},
            {"type": "distill", "train": {"epochs": 3}, "baseline_seeds": []},
        ],
    })
    result = run(config)
    cache = result.artifacts["cache"].metrics
    assert cache["format"] == "topk" and cache["k"] == 3 and cache["bytes_per_sample"] == 14  # 3 fp16 log-probs, 3 int16 ids, fp16 rest mass
    assert result.artifacts["distill"].metrics["accuracy"] > 0.6
