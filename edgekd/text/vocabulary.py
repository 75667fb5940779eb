"""A student's token embedding over only the tokens its training texts use (`vocabulary: training`).

A 30k-token tokenizer gives a phone-sized student a 30k-row table, most of whose rows it never sees
in ~10k training sentences: the teacher's 11,113 movie reviews use 15,476 of MiniLM's 30,522 ids.
Those rows are most of the student's parameters and stay at their starting values. Dropping them
frees the budget for the layers after the embedding, where width pays.

The model still reads the teacher tokenizer's ids, so apps and exported files feed it what that
tokenizer returns. A lookup table (`token_map`, one int32 per tokenizer id, a buffer, not a
parameter) sends each id to its row. Padding goes to row 0 and ids the training texts never used
go to one shared row 1. The table is saved with the weights, so a rebuilt model, the ONNX file
(a Gather) and the TFLite file (a gather) read it too.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

PAD_ROW, UNSEEN_ROW, FIRST_ROW = 0, 1, 2
REQUEST = "training"  # the student kwarg value the distill stage resolves to a row count


def training_vocabulary(inputs: np.ndarray, pad_id: int) -> np.ndarray:
    """The sorted token ids the training texts use, padding left out."""
    ids = np.unique(np.asarray(inputs))
    return ids[ids != pad_id].astype(np.int64)


def unseen_map(vocab_size: int, pad_id: int) -> torch.Tensor:
    """The id -> row table before `fill_map`: padding at its row, every other id at the unseen row."""
    table = torch.full((vocab_size,), UNSEEN_ROW, dtype=torch.int32)
    table[pad_id] = PAD_ROW
    return table


def fill_map(token_map: torch.Tensor, ids: np.ndarray, pad_id: int) -> None:
    """Give each of `ids` its own row, in order, from FIRST_ROW; every other id shares the unseen row."""
    table = unseen_map(token_map.shape[0], pad_id)
    table[torch.as_tensor(ids, dtype=torch.long)] = torch.arange(FIRST_ROW, FIRST_ROW + len(ids), dtype=torch.int32)
    table[pad_id] = PAD_ROW
    token_map.copy_(table)


def initialise_rows(embedding: nn.Embedding, folder: str, std: float, ids: np.ndarray, pad_id: int) -> None:
    """Start a pruned table from the teacher folder's on its principal components: row FIRST_ROW + i
    from id ids[i]; the unseen row from the mean of the ids left out; the padding row at zero."""
    from edgekd.text.embedding_init import principal_table

    table = principal_table(folder, embedding.embedding_dim, std)
    kept = torch.as_tensor(ids, dtype=torch.long)
    dropped = torch.ones(table.shape[0], dtype=torch.bool)
    dropped[kept] = False
    dropped[pad_id] = False
    with torch.no_grad():
        embedding.weight[PAD_ROW].zero_()
        embedding.weight[UNSEEN_ROW].copy_(table[dropped].mean(dim=0) if dropped.any() else torch.zeros(table.shape[1]))
        embedding.weight[FIRST_ROW:].copy_(table[kept])


def reads_ids(model: nn.Module) -> int | None:
    """How many tokenizer ids a pruned model reads (its `token_map`); None for any other model."""
    token_map = getattr(model, "token_map", None)
    return int(token_map.shape[0]) if isinstance(token_map, torch.Tensor) else None
