"""Same config and seed, same machine: byte-identical student weights and teacher cache."""

import yaml

from edgekd.config import parse_config
from edgekd.pipeline import run

PIPELINE = """
name: determinism
data: {train_subset: 3000, test_subset: 200}
stages:
  - {type: teacher, checkpoint: models/fmnist_teacher.safetensors}
  - {type: cache}
  - {type: distill, train: {epochs: 1}, baseline_seeds: []}
"""


def _digests(tmp_path, folder):
    raw = yaml.safe_load(PIPELINE)
    raw["artifacts_dir"] = str(tmp_path / folder)
    result = run(parse_config(raw))
    return {name: {f: r["sha256"] for f, r in a.manifest["files"].items()} for name, a in result.artifacts.items()}


def test_two_runs_give_identical_bytes(tmp_path):
    first, second = _digests(tmp_path, "a"), _digests(tmp_path, "b")
    assert first == second
    assert "model.safetensors" in first["distill"] and "shard-00000.logits.npy" in first["cache"]
