"""Feature (hint) and relation KD, and FKD-style augmented caches, through the real pipeline."""

import pytest

from edgekd.config import parse_config
from edgekd.errors import ConfigError
from edgekd.pipeline import run


def _config(tmp_path, cache: dict, distill: dict):
    return parse_config({
        "name": "features", "artifacts_dir": str(tmp_path / "artifacts"),
        "data": {"train_subset": 3000, "test_subset": 500},
        "stages": [
            {"type": "teacher", "checkpoint": "models/fmnist_teacher.safetensors"},
            {"type": "cache", **cache},
            {"type": "distill", "train": {"epochs": 2}, "baseline_seeds": [], **distill},
        ],
    })


def test_hint_and_relation_kd_from_cached_features(tmp_path):
    config = _config(
        tmp_path, {"features": ["classifier.3", "features"]},
        {"hints": [{"student_layer": "classifier.2", "teacher_layer": "classifier.3"},
                   {"student_layer": "features", "teacher_layer": "features", "weight": 0.5}],
         "relations": [{"student_layer": "classifier.2", "teacher_layer": "classifier.3"}]})
    result = run(config)
    cache = result.artifacts["cache"].metrics
    assert cache["features"] == {"classifier.3": [256], "features": [64, 7, 7]}
    assert cache["bytes_per_sample"] == 20 + 2 * 256 + 2 * 64 * 49
    assert result.artifacts["distill"].metrics["accuracy"] > 0.6


def test_hint_on_a_layer_the_cache_lacks_names_it(tmp_path):
    config = _config(tmp_path, {}, {"hints": [{"student_layer": "classifier.2", "teacher_layer": "classifier.3"}]})
    with pytest.raises(ConfigError, match="'classifier.3' is not in the cache"):
        run(config)


def test_unknown_student_layer_lists_the_layers(tmp_path):
    config = _config(tmp_path, {"features": ["classifier.3"]},
                     {"hints": [{"student_layer": "classifer.2", "teacher_layer": "classifier.3"}]})
    with pytest.raises(ConfigError, match="student has no layer 'classifer.2'.*classifier.2"):
        run(config)


def test_augmented_cache_trains_on_the_stored_views(tmp_path):
    result = run(_config(tmp_path, {"views": {"count": 2, "pad": 2, "seed": 1}}, {}))
    cache = result.artifacts["cache"].metrics
    assert cache["views"] == 2 and cache["bytes_per_sample"] == 2 * 20 + 2 * 3
    # 48 steps on shifted, flipped views: well above chance (0.1) at any thread count (0.49 at 1, 0.5+ at 2)
    assert result.artifacts["distill"].metrics["accuracy"] > 0.3
    reseeded = run(_config(tmp_path, {"views": {"count": 2, "pad": 2, "seed": 2}}, {}))
    assert reseeded.artifacts["cache"].metrics["key"] != cache["key"], "the augmentation seed is in the key"
