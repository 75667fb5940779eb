"""Data-free KD: DeepInversion makes a transfer set from the shipped teacher alone, the cache and
the student use it instead of the real training split, and the real test split only scores."""

import numpy as np
import pytest
import torch
from torch import nn

from edgekd.config import parse_config
from edgekd.kd.deep_inversion import InversionSettings, batch_norm_layers, synthesize
from edgekd.pipeline import run
from edgekd.zoo import FashionTeacher


def _config(tmp_path, synth: dict, distill: bool = True):
    stages = [{"type": "teacher", "checkpoint": "models/fmnist_teacher.safetensors"},
              {"type": "synthesize", "samples": 320, "batch_size": 80, "iterations": 60, **synth},
              {"type": "cache"},
              {"type": "distill", "train": {"epochs": 15, "batch_size": 32}, "baseline_seeds": []}]
    return parse_config({"name": "data-free", "artifacts_dir": str(tmp_path / "artifacts"),
                         "data": {"train_subset": 500, "test_subset": 500}, "stages": stages if distill else stages[:3]})


def test_the_cache_and_the_student_see_only_the_synthetic_set(tmp_path):
    result = run(_config(tmp_path, {}))
    synth = result.artifacts["synthesize"].metrics
    assert synth["samples"] == 320 and synth["classes_covered"] >= 8
    assert synth["assigned_class_agreement"] > 0.9  # the teacher sees the class each input was made for
    assert result.artifacts["cache"].metrics["samples"] == 320  # not the 500 real training images
    assert result.artifacts["distill"].metrics["accuracy"] > 0.2  # 320 images: well above chance (0.1)


def test_another_seed_is_another_set_and_another_cache(tmp_path):
    from edgekd.stages.synthesize import INPUTS_FILE

    small = {"samples": 20, "batch_size": 20, "iterations": 2}  # what is checked is keys, not quality
    first = run(_config(tmp_path, {"seed": 1, **small}, distill=False))
    second = run(_config(tmp_path, {"seed": 2, **small}, distill=False))
    assert first.artifacts["synthesize"].id != second.artifacts["synthesize"].id
    assert first.artifacts["cache"].id != second.artifacts["cache"].id
    sets = [np.load(r.artifacts["synthesize"].path / INPUTS_FILE) for r in (first, second)]
    assert sets[0].shape == sets[1].shape and not np.array_equal(*sets)


def test_inversion_moves_batch_statistics_towards_the_teachers():
    """Hand-checkable effect: after optimisation the first batch norm sees statistics closer to its
    running ones than the random start did."""
    torch.manual_seed(0)
    teacher = FashionTeacher().eval()
    layer = batch_norm_layers(teacher)[0]
    layer.running_mean.fill_(0.5)
    layer.running_var.fill_(2.0)
    seen = {}
    layer.register_forward_hook(lambda m, i, o: seen.update(x=i[0]))

    def gap(x):
        teacher(torch.from_numpy(x))
        batch = seen["x"]
        return float((batch.mean((0, 2, 3)) - 0.5).norm() + (batch.var((0, 2, 3), unbiased=False) - 2.0).norm())

    start = torch.randn((16, 1, 28, 28), generator=torch.Generator().manual_seed(3)).numpy()
    made, _ = synthesize(teacher, (1, 28, 28), np.arange(16) % 10, 16,
                         InversionSettings(iterations=40, bn_weight=1.0, tv_weight=0.0), seed=3)
    assert gap(made) < 0.5 * gap(start)


def test_a_teacher_without_batch_norm_is_refused():
    with pytest.raises(ValueError, match="no batch norm"):
        synthesize(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)), (4,), np.zeros(2), 2, InversionSettings(), 0)
