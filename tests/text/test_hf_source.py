"""`hf:` model source: local folders only, safetensors only, one-line errors; the vocabulary check."""

import numpy as np
import pytest
import torch

from edgekd.data.input_spec import InputSpec
from edgekd.errors import CheckpointError, ConfigError
from edgekd.models.build import build_model
from tests.text.conftest import MINILM

TEXT_SPEC = InputSpec(shape=(16,), layout="NL", dtype="int64", class_names=("a", "b", "c"),
                      extra={"pad_id": 0, "vocab_size": 30522, "max_length": 16, "tokenizer": "minilm"})


def tiny_classifier_folder(path, num_labels=2, safetensors=True):
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=num_labels)
    model = BertForSequenceClassification(config)
    model.save_pretrained(str(path))
    if not safetensors:  # the old pickled format (transformers 5 no longer writes it)
        (path / "model.safetensors").unlink()
        torch.save(model.state_dict(), path / "pytorch_model.bin")
    return path


def test_minilm_classifier_and_embedder_from_the_packaged_folder(minilm_folder):
    model, kwargs = build_model(f"hf:{MINILM}", TEXT_SPEC)
    assert kwargs == {"task": "classification", "num_classes": 3, "pad_id": 0}
    ids = torch.tensor([[101, 2023, 3185, 2001, 2307, 102, 0, 0]])
    with torch.no_grad():
        assert model.eval()(ids).shape == (1, 3)
        embedder, _ = build_model({"name": f"hf:{MINILM}", "kwargs": {"task": "embedding"}}, TEXT_SPEC)
        embedding = embedder.eval()(ids)
        # The mask is ids != pad: padding changes nothing, as a tokenizer's own mask would.
        same = embedder(ids[:, :6])
    assert embedding.shape == (1, 384) and abs(float(embedding.norm()) - 1.0) < 1e-5  # Normalize module
    assert torch.allclose(embedding, same, atol=1e-5)


def test_folder_with_its_own_head_is_checked_against_the_classes(tmp_path):
    folder = tiny_classifier_folder(tmp_path / "clf", num_labels=2)
    with pytest.raises(CheckpointError, match="classifies 2 labels but the data has 3 classes"):
        build_model(f"hf:{folder}", TEXT_SPEC)
    model, _ = build_model(f"hf:{folder}", TEXT_SPEC.__class__(**{**TEXT_SPEC.__dict__, "class_names": ("x", "y")}))
    assert model.head is None and model.eval()(torch.tensor([[101, 7592, 102]])).shape == (1, 2)


def test_bad_folders_are_one_line(tmp_path):
    with pytest.raises(CheckpointError, match="folder not found"):
        build_model(f"hf:{tmp_path / 'absent'}", TEXT_SPEC)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no config.json"):
        build_model(f"hf:{tmp_path / 'empty'}", TEXT_SPEC)
    pickled = tiny_classifier_folder(tmp_path / "bin", safetensors=False)
    assert (pickled / "pytorch_model.bin").is_file()
    with pytest.raises(CheckpointError, match="no model.safetensors .weights found: pytorch_model.bin, which is pickled"):
        build_model(f"hf:{pickled}", TEXT_SPEC)
    with pytest.raises(CheckpointError, match="`revision` is a hub setting"):
        build_model({"name": f"hf:{MINILM}", "kwargs": {"revision": "main"}}, TEXT_SPEC)


def test_a_student_with_another_vocabulary_is_refused():
    from edgekd.stages.teacher import check_vocabulary

    model, kwargs = build_model("token_cnn", TEXT_SPEC)
    assert kwargs["vocab_size"] == 30522 and kwargs["max_length"] == 16
    check_vocabulary(model, TEXT_SPEC, "student token_cnn")
    other, _ = build_model({"name": "token_cnn", "kwargs": {"vocab_size": 8000}}, TEXT_SPEC)
    with pytest.raises(ConfigError, match="embeds 8000 token ids but the data's tokenizer .minilm. has 30522"):
        check_vocabulary(other, TEXT_SPEC, "student token_cnn")


@pytest.mark.parametrize("name", ["tiny_bert", "token_cnn"])
def test_students_ignore_padding(name):
    torch.manual_seed(0)
    model, _ = build_model(name, TEXT_SPEC)
    ids = torch.tensor([[101, 2023, 3185, 102] + [0] * 12])
    with torch.no_grad():
        padded, short = model.eval()(ids), model(ids[:, :4])
    np.testing.assert_allclose(padded.numpy(), short.numpy(), atol=1e-5)


def test_an_untrained_teacher_cannot_skip_training(tmp_path, tiny_data):
    from edgekd.config import parse_config
    from edgekd.pipeline import run

    raw = {"name": "t", "artifacts_dir": str(tmp_path / "a"), "data": {"data_dir": str(tiny_data)},
           "stages": [{"type": "teacher", "model": "fmnist_teacher", "train": None}]}
    with pytest.raises(ConfigError, match="train: null uses the teacher as it is, but fmnist_teacher has no trained"):
        run(parse_config(raw, source="t.yaml"))
