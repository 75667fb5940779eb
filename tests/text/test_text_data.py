"""text_csv / jsonl: tokenised once, counted truncation and empty texts, one-line errors."""

import csv
import json

import numpy as np
import pytest

from edgekd.context import DataSource
from edgekd.errors import DataError
from tests.text.conftest import MINILM, ROTTEN_TOMATOES


def write_csv(path, rows, header=("text", "label")):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


ROWS = [("a quietly moving film", "good"), ("dull and far too long", "bad"), ("", "good"),
        ("one of the year's best " * 20, "good"), ("a mess", "bad"), ("   ", "bad"),
        ("warm, funny and sharp", "good"), ("nothing works here", "bad")]


def source(tmp_path, **fields):
    config = {"type": "text_csv", "path": str(write_csv(tmp_path / "reviews.csv", ROWS)), "tokenizer": MINILM,
              "max_length": 16, "test_fraction": 0.25, **fields}
    return DataSource(config, tmp_path / "cache")


def test_tokenised_ids_counts_and_spec(tmp_path, minilm_folder):
    data = source(tmp_path)
    train, test = data.split("train"), data.split("test")
    assert train.inputs.dtype == np.int64 and train.inputs.shape[1] == 16
    assert len(train) + len(test) == 6  # two empty texts dropped
    assert train.inputs[:, 0].tolist() == [101] * len(train)  # [CLS] first, then the text's ids
    tokens = data.raw.tokens
    assert tokens["empty_dropped"] == 2 and tokens["truncated_train"] + tokens["truncated_test"] == 1
    assert "2 empty texts dropped" in data.raw.description
    spec = data.input_spec
    assert spec.layout == "NL" and spec.dtype == "int64" and spec.shape == (16,)
    assert spec.extra["vocab_size"] == 30522 and spec.extra["pad_id"] == 0
    assert spec.class_names == ("bad", "good")


def test_tokenised_arrays_are_cached_and_keyed_by_the_tokenizer(tmp_path, minilm_folder):
    first = source(tmp_path)
    first.split("train")
    cached = list((tmp_path / "cache").glob("text-*.npz"))
    assert len(cached) == 1
    again = source(tmp_path)
    assert np.array_equal(again.split("train").inputs, first.split("train").inputs)
    assert again.fingerprint == first.fingerprint
    # A copy of the tokenizer with one more vocabulary line is another tokenizer: another key.
    other = tmp_path / "tok"
    other.mkdir()
    for name in ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        (other / name).write_bytes((minilm_folder / name).read_bytes())
    with open(other / "vocab.txt", "a") as handle:
        handle.write("edgekdtoken\n")
    assert source(tmp_path, tokenizer=str(other)).fingerprint != first.fingerprint


def test_jsonl_and_class_subset_in_the_given_order(tmp_path, minilm_folder):
    path = tmp_path / "reviews.jsonl"
    path.write_text("".join(json.dumps({"review": t, "stars": s}) + "\n" for t, s in
                            [("great", "5"), ("awful", "1"), ("fine", "3"), ("superb", "5"), ("bad", "1")] * 4))
    data = DataSource({"type": "jsonl", "path": str(path), "text": "review", "label": "stars", "classes": ["5", "1"],
                       "tokenizer": MINILM, "max_length": 8}, tmp_path / "cache")
    assert data.input_spec.class_names == ("5", "1")
    train = data.split("train")
    assert len(train) + len(data.split("test")) == 16 and set(train.labels.tolist()) <= {0, 1}


@pytest.mark.parametrize("fields, message", [
    ({"text": "review"}, "no text column 'review'; columns: text, label"),
    ({"label": "stars"}, "no label column 'stars'"),
    ({"classes": ["good", "meh"]}, "class 'meh' has no rows"),
])
def test_bad_text_config_is_one_line(tmp_path, minilm_folder, fields, message):
    with pytest.raises(Exception, match=message) as error:
        source(tmp_path, **fields).split("train")
    assert "\n" not in str(error.value)


def test_mean_on_a_text_source_names_the_field(tmp_path):
    from edgekd.config import parse_config
    from edgekd.errors import ConfigError

    raw = {"name": "t", "data": {"type": "text_csv", "path": "x.csv", "tokenizer": MINILM, "mean": 0.5},
           "stages": [{"type": "teacher"}]}
    with pytest.raises(ConfigError, match="data.mean.*token ids are not standardised") as error:
        parse_config(raw, source="t.yaml")
    assert "\n" not in str(error.value)


def test_all_empty_texts_and_tokenizer_folder_errors(tmp_path, minilm_folder):
    empty = write_csv(tmp_path / "empty.csv", [("", "a"), (" ", "b")])
    with pytest.raises(DataError, match="every row's 'text' is empty"):
        DataSource({"type": "text_csv", "path": str(empty), "tokenizer": MINILM}, tmp_path / "c").split("train")
    (tmp_path / "no_tokenizer").mkdir()
    (tmp_path / "no_tokenizer" / "config.json").write_text("{}")
    with pytest.raises(DataError, match="holds no tokenizer files .looked for tokenizer.json, vocab.txt"):
        source(tmp_path, tokenizer=str(tmp_path / "no_tokenizer")).split("train")
    with pytest.raises(DataError, match="package 'not_a_package_here' is not installed"):
        source(tmp_path, tokenizer="pkg://not_a_package_here/model").split("train")


def test_rotten_tomatoes_ships_and_mixes_classes_in_a_subset(tmp_path, minilm_folder):
    data = DataSource({"type": "text_csv", "path": ROTTEN_TOMATOES, "label": "category", "tokenizer": MINILM,
                       "train_subset": 200}, tmp_path / "cache")
    assert data.input_spec.class_names == ("fresh", "plot", "rotten")
    assert len(data.raw.train_y) + len(data.raw.test_y) == 13905 - data.raw.tokens["empty_dropped"]
    assert len(set(data.split("train").labels.tolist())) == 3  # the file is sorted by class
