import pickle

import pytest
import torch

from edgekd.models.checkpoints import load_model, read_state_dict, save_weights
from edgekd.errors import CheckpointError
from edgekd.zoo import build_model


class _RunsCode:
    """Unpickling this would call `open(marker, "w")`: code execution from a checkpoint."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_safetensors_round_trip(tmp_path):
    model = build_model("fmnist_student")
    save_weights(model, tmp_path / "s.safetensors")
    loaded = load_model("fmnist_student", tmp_path / "s.safetensors")
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key])


def test_pickle_with_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    with open(path, "wb") as handle:
        pickle.dump({"weight": _RunsCode(marker)}, handle)
    with pytest.raises(CheckpointError, match="refused to load"):
        read_state_dict(path)
    assert not marker.exists()


def test_plain_torch_state_dict_is_accepted(tmp_path):
    model = build_model("fmnist_student")
    torch.save(model.state_dict(), tmp_path / "s.pt")
    load_model("fmnist_student", tmp_path / "s.pt")


def test_wrong_architecture_names_the_problem(tmp_path):
    save_weights(build_model("fmnist_student", width=8), tmp_path / "s.safetensors")
    with pytest.raises(CheckpointError, match="does not fit model 'fmnist_student'"):
        load_model("fmnist_student", tmp_path / "s.safetensors")


def test_corrupt_safetensors(tmp_path):
    (tmp_path / "x.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        read_state_dict(tmp_path / "x.safetensors")


def test_unknown_model_name():
    with pytest.raises(CheckpointError, match="unknown model 'resnet9000'"):
        build_model("resnet9000")
