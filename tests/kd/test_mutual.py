"""Deep mutual learning through the real pipeline: no teacher, two peers from different starts, and
peer 0 is the student the later stages export."""

import pytest

from edgekd.config import parse_config
from edgekd.errors import ConfigError
from edgekd.pipeline import run


def _config(tmp_path, mutual: dict, after: list | None = None):
    return parse_config({
        "name": "mutual", "artifacts_dir": str(tmp_path / "artifacts"),
        "data": {"train_subset": 3000, "test_subset": 500},
        "stages": [{"type": "mutual", "train": {"epochs": 2}, **mutual}, *(after or [])],
    })


def test_two_peers_learn_together_and_peer_zero_exports(tmp_path):
    result = run(_config(tmp_path, {"baseline_seeds": [0]},
                         [{"type": "export_onnx", "models": ["student"], "formats": ["fp32"]},
                          {"type": "bench", "models": ["student"], "min_seconds": 0.0, "warmup": 2},
                          {"type": "report"}]))
    metrics = result.artifacts["mutual"].metrics
    first, second = metrics["peer_accuracies"]
    assert metrics["accuracy"] == first and first > 0.5 and second > 0.5  # 10 % is chance
    assert first != second  # different random starts, different networks
    assert set(metrics["mutual_vs_ce"]) == {"mutual", "ce", "epochs"}
    assert metrics["mutual_vs_ce"]["mutual"]["accuracies"] == [first]
    export, = result.artifacts["export_onnx"].metrics["exports"]
    assert export["status"] == "ok" and export["parity_max_abs"] <= 1e-4
    # No teacher: the report is about the student alone, and says how mutual learning did against CE.
    markdown = (result.artifacts["report"].path / "report.md").read_text()
    assert "| deep mutual learning (peer 0) |" in markdown and "| cross-entropy only |" in markdown


def test_one_peer_is_refused_naming_the_field(tmp_path):
    with pytest.raises(ConfigError, match="peers"):
        _config(tmp_path, {"peers": 1})



def test_killed_peers_resume_to_the_same_weights(tmp_path, monkeypatch):
    """The mutual loop is the shared trainer's: a kill after an epoch checkpoint resumes from it."""
    import torch

    from edgekd.kd.mutual import Peers
    from edgekd.zoo import FashionStudent
    from tests.kd.resume_check import assert_resumes_to_the_same_weights

    def peers():
        torch.manual_seed(0)
        return Peers([FashionStudent(), FashionStudent()])

    assert_resumes_to_the_same_weights(peers, "mutual", tmp_path, monkeypatch)
