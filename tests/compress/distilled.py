"""The pipeline every compression test starts from: the shipped teacher, its cache, a distilled student."""

from edgekd.config import parse_config


def distilled_then(tmp_path, name: str, stages: list[dict], train_subset: int, test_subset: int,
                   distill_epochs: int, **distill):
    """That pipeline (on a subset of Fashion-MNIST, in `tmp_path`) followed by `stages`."""
    return parse_config({
        "name": name, "artifacts_dir": str(tmp_path / "artifacts"),
        "data": {"train_subset": train_subset, "test_subset": test_subset},
        "stages": [
            {"type": "teacher", "checkpoint": "models/fmnist_teacher.safetensors"},
            {"type": "cache"},
            {"type": "distill", "train": {"epochs": distill_epochs}, "baseline_seeds": [], **distill},
            *stages,
        ],
    })
