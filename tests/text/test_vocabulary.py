"""A token CNN pruned to its training texts' tokens (`vocabulary: training`): the ids it saw get
their own rows, all others share one, and the lookup table travels with the weights into a
rebuilt model and the ONNX and TFLite files."""

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from edgekd.models.text_students import TokenCNN
from edgekd.text.vocabulary import FIRST_ROW, PAD_ROW, UNSEEN_ROW, training_vocabulary
from tests.text.test_token_export import SPEC, token_rows

KWARGS = {"vocab_size": 30522, "num_classes": 3, "pad_id": 0, "max_length": 32, "embed_dim": 8, "channels": 16}


def pruned(rows: np.ndarray, **extra) -> TokenCNN:
    ids = training_vocabulary(rows, pad_id=0)
    torch.manual_seed(0)
    model = TokenCNN(**KWARGS, vocabulary=len(ids), **extra)
    model.use_vocabulary(ids)
    return model.eval()


def test_training_vocabulary_is_the_sorted_ids_without_padding():
    rows = np.array([[101, 7, 7, 102, 0], [101, 5, 102, 0, 0]])
    assert training_vocabulary(rows, pad_id=0).tolist() == [5, 7, 101, 102]


def test_seen_ids_get_their_own_rows_and_unseen_ids_share_one():
    rows = token_rows(8)
    model = pruned(rows)
    ids = training_vocabulary(rows, pad_id=0)
    assert model.embed.num_embeddings == FIRST_ROW + len(ids) < 30522
    assert model.token_map[0] == PAD_ROW
    assert model.token_map[torch.as_tensor(ids)].tolist() == list(range(FIRST_ROW, FIRST_ROW + len(ids)))
    unseen = sorted(set(range(1, 30522)) - set(ids.tolist()))
    assert set(model.token_map[unseen].tolist()) == {UNSEEN_ROW}
    # Two never-seen ids in the same place give the same logits: they are one row.
    a, b = rows[:1].copy(), rows[:1].copy()
    a[0, 1], b[0, 1] = unseen[0], unseen[-1]
    with torch.no_grad():
        torch.testing.assert_close(model(torch.from_numpy(a)), model(torch.from_numpy(b)), rtol=0, atol=0)
    # Padding still changes nothing.
    padded = np.zeros((1, 48), dtype=np.int64)
    padded[0, :32] = rows[0]
    with torch.no_grad():
        torch.testing.assert_close(model(torch.from_numpy(padded)), model(torch.from_numpy(rows[:1])),
                                   rtol=1e-5, atol=1e-5)


def test_rows_start_from_the_teachers_table(minilm_folder):
    from edgekd.text.embedding_init import principal_table

    rows = token_rows(8)
    model = pruned(rows, embedding_init=str(minilm_folder))
    ids = training_vocabulary(rows, pad_id=0)
    table = principal_table(str(minilm_folder), 8, std=1.0)
    torch.testing.assert_close(model.embed.weight[FIRST_ROW:], table[torch.as_tensor(ids)])
    assert torch.count_nonzero(model.embed.weight[PAD_ROW]) == 0


def test_a_rebuilt_model_reads_the_table_from_its_weights(tmp_path):
    from edgekd.model_artifacts import load_weights_into_spec

    rows = token_rows(8)
    model = pruned(rows)
    save_file(model.state_dict(), str(tmp_path / "model.safetensors"))
    kwargs = {**KWARGS, "vocabulary": model.embed.num_embeddings - FIRST_ROW, "embedding_init": "/nowhere"}
    loaded = load_weights_into_spec({"spec": "token_cnn", "kwargs": kwargs}, tmp_path / "model.safetensors")
    ids = torch.from_numpy(token_rows(4, seed=1))  # mostly ids the model never saw
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids), model(ids), rtol=0, atol=0)


def test_the_stage_request_is_not_a_row_count():
    with pytest.raises(ValueError, match="vocabulary: 'training': a row count"):
        TokenCNN(**KWARGS, vocabulary="training")


def test_the_vocabulary_check_reads_the_lookup_table():
    from edgekd.errors import ConfigError
    from edgekd.stages.teacher import check_vocabulary

    model = pruned(token_rows(8))
    check_vocabulary(model, SPEC, "student token_cnn")  # 30,522 ids read, fewer rows
    other = TokenCNN(**{**KWARGS, "vocab_size": 8000}, vocabulary=10)
    with pytest.raises(ConfigError, match="embeds 8000 token ids"):
        check_vocabulary(other, SPEC, "student token_cnn")


@pytest.mark.parametrize("runtime", ["onnx", "tflite"])
def test_exported_files_carry_the_table(tmp_path, runtime):
    from edgekd.export.checked import export_and_check
    from edgekd.stages import export_onnx, export_tflite

    rows = token_rows(16)
    model = pruned(rows[:8])  # half the rows hold ids the model never saw
    if runtime == "onnx":
        convert = export_onnx.convert
    else:
        def convert(module, precision, sample, out, stem):
            return export_tflite.convert(module, precision, sample, out, stem, threads=1)
    record, _ = export_and_check(model, runtime, "fp32", convert, tmp_path, "m", rows, SPEC, "pytorch fp32")
    assert record["parity_rel"] <= 1e-4 and record["top1_agreement"] == 1.0
