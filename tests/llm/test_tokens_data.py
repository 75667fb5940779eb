"""The `tokens` data source: documents split before chunking, chunks of length + 1, keyed caching, and
one-line errors, with SmolLM2's real tokenizer."""

import numpy as np
import pytest

from edgekd.context import DataSource
from edgekd.data.tokens import chunk_stream
from edgekd.errors import DataError
from tests.llm.conftest import SMOLLM2


def test_chunks_share_their_boundary_token_and_drop_the_remainder():
    chunks = chunk_stream([[1, 2, 3], [4, 5]], separator=0, length=3)
    # stream 1 2 3 0 4 5 0: two chunks of 4, each predicting 3 tokens; the last token is left over.
    assert chunks.tolist() == [[1, 2, 3, 0], [0, 4, 5, 0]]
    assert chunk_stream([[1]], 0, 3).shape == (0, 4)


def test_python_docs_become_training_and_heldout_chunks(tmp_path):
    data = DataSource({"type": "tokens", "tokenizer": SMOLLM2, "length": 64}, cache_dir=tmp_path)
    train, heldout = data.split("train").inputs, data.split("test").inputs
    assert train.shape[1] == heldout.shape[1] == 65 and train.dtype == np.int64
    assert len(train) > 5 * len(heldout) > 0 and train.max() < 49152
    tokens = data.raw.tokens
    assert tokens["vocab_size"] == 49152 and sum(tokens["documents"]) == 79  # pydoc_data.topics
    assert data.input_spec.layout == "NL" and not data.split("train").labelled
    cached = list(tmp_path.glob("tokens-*.npz"))
    assert len(cached) == 1
    again = DataSource({"type": "tokens", "tokenizer": SMOLLM2, "length": 64}, cache_dir=tmp_path)
    assert again.fingerprint == data.fingerprint
    np.testing.assert_array_equal(again.split("test").inputs, heldout)
    other = DataSource({"type": "tokens", "tokenizer": SMOLLM2, "length": 32}, cache_dir=tmp_path)
    assert other.fingerprint != data.fingerprint


def test_a_csv_corpus_reads_its_text_column(tmp_path):
    rows = ["id,review"] + [f"{i},\"A film about the number {i}, told slowly and with care.\"" for i in range(60)]
    (tmp_path / "r.csv").write_text("\n".join(rows) + "\n")
    data = DataSource({"type": "tokens", "path": str(tmp_path / "r.csv"), "text": "review", "tokenizer": SMOLLM2,
                       "length": 16, "heldout_fraction": 0.2})
    assert data.split("train").inputs.shape[1] == 17 and data.raw.tokens["documents"] == [48, 12]
    with pytest.raises(DataError, match="no text column 'text'; columns: id, review"):
        DataSource({"type": "tokens", "path": str(tmp_path / "r.csv"), "tokenizer": SMOLLM2}).split("train")


def test_missing_corpus_tokenizer_or_too_little_text_is_one_line(tmp_path):
    with pytest.raises(DataError, match="corpus file .*nope.txt not found"):
        DataSource({"type": "tokens", "path": str(tmp_path / "nope.txt"), "tokenizer": SMOLLM2}).split("train")
    (tmp_path / "short.txt").write_text("Too short.")
    with pytest.raises(DataError, match="cannot be split into training and held-out text"):
        DataSource({"type": "tokens", "path": str(tmp_path / "short.txt"), "tokenizer": SMOLLM2}).split("train")
    with pytest.raises(DataError, match="GGUF file not found"):
        DataSource({"type": "tokens", "tokenizer": f"gguf:{tmp_path}/none.gguf"}).split("train")
