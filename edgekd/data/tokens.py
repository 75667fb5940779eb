"""`tokens`: text for language-model distillation, tokenised into fixed-length chunks.

The corpus is a plain-text file (one document), a CSV or JSONL file (one document per row, its `text`
column), optionally compressed, or `stdlib:pydoc_topics`: the help topics of Python's own
documentation, which ship with every CPython (`pydoc_data/topics.py`, PSF licence; 79 documents,
about 113k SmolLM2 tokens). Documents are split into training and held-out sets first, so held-out
text is never seen in training; each set is one stream (documents joined by the end-of-text token)
cut into chunks of `length + 1` tokens: a model reads `length` of them and predicts the next token at
every position. The chunks are cached under the data cache, keyed by the corpus bytes, the
tokenizer's files and these settings.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveInt, field_validator

from edgekd.data.base import DataConfigBase, RawData
from edgekd.errors import DataError

LAYOUT = "NL"
STDLIB_TOPICS = "stdlib:pydoc_topics"
# In every cache key: change how documents are read, split or chunked and this must change.
ALGORITHM = "tokens-v1: documents split by seeded shuffle, no special tokens, eos between, chunks of length+1"


class TokensConfig(DataConfigBase):
    type: Literal["tokens"] = "tokens"
    path: str = Field(STDLIB_TOPICS, description="a .txt / .csv / .jsonl file (or pkg://...), or stdlib:pydoc_topics")
    text: str = Field("text", description="the text column / key of a CSV or JSONL corpus")
    tokenizer: str = Field(description="the teacher's tokenizer: a Hugging Face folder or gguf:<file>")
    length: PositiveInt = Field(128, description="tokens a model reads per chunk")
    heldout_fraction: float = Field(0.1, gt=0.0, lt=1.0, description="share of documents held out")
    split_seed: int = 0
    mean: None = None  # token ids are not standardised
    std: None = None

    @field_validator("mean", "std", mode="before")
    @classmethod
    def _no_statistics(cls, value):
        if value not in (None, "auto"):
            raise ValueError("token ids are not standardised; remove mean/std from a tokens source")
        return None


def corpus_file(config: TokensConfig) -> Path:
    if config.path == STDLIB_TOPICS:
        import importlib.util

        return Path(importlib.util.find_spec("pydoc_data.topics").origin)
    from edgekd.package_paths import resolve

    path = resolve(config.path)
    if not path.is_file():
        raise DataError(f"data.path: corpus file {path} not found")
    return path


def read_documents(config: TokensConfig, path: Path) -> list[str]:
    """The corpus's non-empty documents, in file order."""
    if config.path == STDLIB_TOPICS:
        import importlib

        documents = list(importlib.import_module("pydoc_data.topics").topics.values())
    elif path.name.removesuffix(path.suffix if path.suffix in (".gz", ".bz2", ".xz") else "").endswith(
            (".csv", ".jsonl")):
        from edgekd.data.text_table import JsonlConfig, TextCsvConfig, read_rows

        table = JsonlConfig if ".jsonl" in path.name else TextCsvConfig
        documents, _, _ = read_rows(path, table(tokenizer="", text=config.text, label=None, path=str(path)))
    else:
        from edgekd.data.text_table import _open

        with _open(path) as handle:
            documents = [handle.read()]
    documents = [doc for doc in documents if doc.strip()]
    if not documents:
        raise DataError(f"{path}: no text")
    return documents


def chunk_stream(documents: list[list[int]], separator: int, length: int):
    """Documents joined by `separator`, cut into non-overlapping chunks of length + 1 (the last token
    of one chunk is the first of the next, so every token is predicted once)."""
    import numpy as np

    stream = np.fromiter((t for doc in documents for t in (*doc, separator)), dtype=np.int64)
    count = (len(stream) - 1) // length
    if count == 0:
        return np.zeros((0, length + 1), dtype=np.int64)
    starts = np.arange(count) * length
    return stream[starts[:, None] + np.arange(length + 1)]


def cache_key(config: TokensConfig, path: Path) -> str:
    from edgekd.artifacts import file_digest
    from edgekd.text.tokenizer import tokenizer_digest

    settings = config.model_dump(mode="json", exclude={"path", "tokenizer", "train_subset", "test_subset"})
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    digest.update(ALGORITHM.encode())
    digest.update(file_digest(path).encode())
    digest.update(tokenizer_digest(config.tokenizer).encode())
    return digest.hexdigest()[:16]


def _tokenise(config: TokensConfig, path: Path) -> dict:
    import numpy as np

    from edgekd.data.base import seeded_split
    from edgekd.quiet import transformers_quiet
    from edgekd.text.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(config.tokenizer)
    separator = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else tokenizer.pad_token_id
    documents = read_documents(config, path)
    with transformers_quiet():  # else a warning for every document longer than the model's positions
        ids = tokenizer(documents, add_special_tokens=False)["input_ids"]
    train, heldout = seeded_split(len(documents), config.heldout_fraction, config.split_seed)
    if len(heldout) == 0 or len(train) == 0:
        raise DataError(f"{path}: {len(documents)} documents cannot be split into training and held-out text")
    arrays = {"x_train": chunk_stream([ids[i] for i in train], separator, config.length),
              "x_test": chunk_stream([ids[i] for i in heldout], separator, config.length),
              "vocab": np.array([tokenizer.pad_token_id, len(tokenizer), separator], dtype=np.int64),
              "documents": np.array([len(train), len(heldout)], dtype=np.int64)}
    for split, name in (("x_train", "training"), ("x_test", "held-out")):
        if len(arrays[split]) == 0:
            raise DataError(f"{path}: the {name} documents hold fewer than {config.length + 1} tokens")
    return arrays


def load(config: TokensConfig, cache_dir: Path | None = None) -> RawData:
    import numpy as np

    from edgekd.data.array_cache import cached_arrays
    from edgekd.text.tokenizer import tokenizer_digest

    path = corpus_file(config)
    key = cache_key(config, path)
    arrays = cached_arrays(cache_dir, f"tokens-{key}", lambda: _tokenise(config, path))
    pad_id, vocab_size, separator = (int(v) for v in arrays["vocab"])
    train_docs, heldout_docs = (int(v) for v in arrays["documents"])
    train_x, test_x = arrays["x_train"], arrays["x_test"]
    notes = (f"{train_docs} training / {heldout_docs} held-out documents: {len(train_x)} / {len(test_x)} chunks "
             f"of {config.length} tokens")
    # Next-token prediction has no class labels: the label arrays are placeholders nothing scores.
    return RawData(train_x, np.zeros(len(train_x), dtype=np.int64), test_x, np.zeros(len(test_x), dtype=np.int64),
                   LAYOUT, [], content_key=key, description=notes, labelled=False,
                   tokens={"pad_id": pad_id, "vocab_size": vocab_size, "max_length": config.length + 1,
                           "tokenizer": config.tokenizer.removeprefix("pkg://"),
                           "tokenizer_sha256": tokenizer_digest(config.tokenizer), "separator_id": separator,
                           "length": config.length, "documents": [train_docs, heldout_docs],
                           "tokens_train": int(len(train_x) * config.length),
                           "tokens_heldout": int(len(test_x) * config.length)})
