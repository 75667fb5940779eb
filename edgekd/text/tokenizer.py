"""A Hugging Face tokenizer from a local folder, and what identifies it.

Text samples inside edgekd are rows of token ids padded to `max_length` with the tokenizer's pad id;
the attention mask is always `ids != pad_id`, built the same way in training, export and bench. The
tokenizer's files (not its path) go into every content key, so a changed vocabulary re-tokenises.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from edgekd.errors import DataError

# Files that define a tokenizer in a Hugging Face folder; any one of the first three is enough.
DEFINING_FILES = ("tokenizer.json", "vocab.txt", "tokenizer.model")
TOKENIZER_FILES = DEFINING_FILES + ("tokenizer_config.json", "special_tokens_map.json", "vocab.json",
                                    "merges.txt", "added_tokens.json")


def tokenizer_files(folder: str | Path) -> list[Path]:
    """The tokenizer files present in `folder` (a path or pkg://...); a missing folder or tokenizer
    is one line."""
    from edgekd.package_paths import resolve

    folder = resolve(folder)
    if not folder.is_dir():
        raise DataError(f"tokenizer folder {folder} not found")
    if not any((folder / name).is_file() for name in DEFINING_FILES):
        raise DataError(f"{folder} holds no tokenizer files (looked for {', '.join(DEFINING_FILES)})")
    return [folder / name for name in TOKENIZER_FILES if (folder / name).is_file()]


def gguf_file(reference: str | Path) -> Path | None:
    """`gguf:<file>` (a path or pkg://...): a GGUF model file, which carries its tokenizer; else None."""
    text = str(reference)
    if not text.startswith("gguf:"):
        return None
    from edgekd.package_paths import resolve

    path = resolve(text[len("gguf:"):])
    if not path.is_file():
        raise DataError(f"{text}: GGUF file not found")
    return path


def tokenizer_digest(folder: str | Path) -> str:
    digest = hashlib.sha256()
    if (gguf := gguf_file(folder)) is not None:
        from edgekd.artifacts import file_digest

        return file_digest(gguf)[:16]
    for path in tokenizer_files(folder):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def load_tokenizer(folder: str | Path):
    """`AutoTokenizer` from the folder (or a `gguf:` file) only, never a hub; it must have a pad token."""
    from transformers import AutoTokenizer

    from edgekd.quiet import transformers_quiet

    gguf = gguf_file(folder)
    with transformers_quiet():
        if gguf is not None:
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
        else:
            folder = tokenizer_files(folder)[0].parent
            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer


def encode(tokenizer, texts: list[str], max_length: int):
    """(ids int64 (N, max_length) padded with the pad id, how many texts were truncated)."""
    import numpy as np

    full = tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
    truncated = sum(len(ids) > max_length for ids in full)
    batch = tokenizer(texts, add_special_tokens=True, truncation=True, max_length=max_length,
                      padding="max_length", return_attention_mask=False)["input_ids"]
    return np.asarray(batch, dtype=np.int64), truncated
