"""A text student initialised from a teacher folder is rebuilt without it to load its weights: on
the host (artifact load) and in the emulated guest, which has neither the folder nor transformers."""

import pytest
import torch
from safetensors.torch import save_file

from edgekd.bench.emulated_rows import _guest_architecture
from edgekd.model_artifacts import load_weights_into_spec
from edgekd.runtimes.qemu_aarch64 import EmulatorUnavailable

KWARGS = {"vocab_size": 50, "num_classes": 3, "pad_id": 0, "max_length": 8, "embed_dim": 8, "channels": 8,
          "embedding_init": "/nowhere/teacher-folder"}


def test_weights_load_without_the_init_folder(tmp_path):
    from edgekd.models.text_students import TokenCNN

    plain = {k: v for k, v in KWARGS.items() if k != "embedding_init"}
    trained = TokenCNN(**plain)
    save_file(trained.state_dict(), str(tmp_path / "model.safetensors"))
    loaded = load_weights_into_spec({"spec": "token_cnn", "kwargs": KWARGS}, tmp_path / "model.safetensors")
    ids = torch.tensor([[3, 4, 5, 0, 0, 0, 0, 0]])
    torch.testing.assert_close(loaded(ids), trained.eval()(ids), rtol=0, atol=0)


def test_guest_gets_no_init_folder_and_no_transformers_model():
    assert _guest_architecture("token_cnn", KWARGS)["arch_kwargs"] == \
        {k: v for k, v in KWARGS.items() if k != "embedding_init"}
    with pytest.raises(EmulatorUnavailable, match="tiny_bert needs transformers"):
        _guest_architecture("tiny_bert", {"vocab_size": 50, "num_classes": 3})
