"""Teachers from the config: several teachers combined, and a student as its own teacher."""

import pytest

from edgekd.models.checkpoints import save_weights
from edgekd.config import parse_config
from edgekd.errors import ConfigError
from edgekd.pipeline import run
from edgekd.zoo import build_model

DATA = {"train_subset": 2000, "test_subset": 300}
SHIPPED = {"type": "teacher", "checkpoint": "models/fmnist_teacher.safetensors"}


def test_two_teachers_with_weights(tmp_path):
    config = parse_config({
        "name": "ensemble", "artifacts_dir": str(tmp_path / "a"), "data": DATA,
        "stages": [
            {**SHIPPED, "name": "big"},
            {"type": "teacher", "name": "small", "model": "fmnist_teacher", "width": 8, "train": {"epochs": 1}},
            {"type": "cache", "teachers": ["big", "small"], "teacher_weights": [3.0, 1.0]},
            {"type": "distill", "train": {"epochs": 2}, "baseline_seeds": []},
        ],
    })
    result = run(config)
    assert result.artifacts["cache"].metrics["teachers"] == 2
    assert result.artifacts["distill"].metrics["accuracy"] > 0.5


def test_teacher_list_must_name_teacher_stages(tmp_path):
    config = parse_config({
        "name": "typo", "artifacts_dir": str(tmp_path / "a"), "data": DATA,
        "stages": [SHIPPED, {"type": "cache", "teachers": ["teachr"]}],
    })
    with pytest.raises(ConfigError, match="no earlier teacher stage named 'teachr'"):
        run(config)


def test_weights_need_one_per_teacher():
    with pytest.raises(ConfigError, match="teacher_weights"):
        parse_config({"name": "w", "stages": [SHIPPED, {"type": "cache", "teachers": ["teacher"],
                                                         "teacher_weights": [1.0, 2.0]}]})


def test_self_distillation_from_a_student_checkpoint(tmp_path):
    earlier = tmp_path / "student_v1.safetensors"
    save_weights(build_model("fmnist_student"), earlier)  # any earlier student checkpoint
    config = parse_config({
        "name": "self", "artifacts_dir": str(tmp_path / "a"), "data": DATA,
        "stages": [{"type": "teacher", "model": "fmnist_student", "checkpoint": str(earlier)},
                   {"type": "cache"}, {"type": "distill", "train": {"epochs": 1}, "baseline_seeds": []}],
    })
    result = run(config)
    assert result.artifacts["cache"].metrics["samples"] == 2000
    assert result.artifacts["distill"].metrics["model"] == "fmnist_student"
