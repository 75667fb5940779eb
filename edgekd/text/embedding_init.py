"""Start a student's token embedding from the teacher's: its principal components.

A student trained on ~10k sentences sees most of a 30k-token vocabulary a handful of times; the
teacher's embedding table already places those tokens. Projecting it onto its top `dim` principal
components keeps as much of that geometry as `dim` numbers per token can (the same idea as
DistilBERT's initialisation from teacher layers, for a student narrower than the teacher).
"""

from __future__ import annotations

import torch

TABLE_SUFFIXES = ("word_embeddings.weight", "embed_tokens.weight", "wte.weight")


def teacher_table(folder: str) -> torch.Tensor:
    """The token-embedding matrix (vocab, hidden) in a Hugging Face folder's safetensors."""
    from safetensors import safe_open

    from edgekd.errors import CheckpointError
    from edgekd.models.hf_source import check_folder

    path = check_folder(folder)
    for weights in sorted(path.glob("*.safetensors")):
        with safe_open(str(weights), framework="pt") as handle:
            for key in handle.keys():
                if key.endswith(TABLE_SUFFIXES):
                    return handle.get_tensor(key).float()
    raise CheckpointError(f"{folder}: no token-embedding table (a key ending {' or '.join(TABLE_SUFFIXES)})")


def principal_table(folder: str, dim: int, std: float) -> torch.Tensor:
    """(vocab, dim): the teacher's table on its top `dim` principal components, scaled to `std`."""
    table = teacher_table(folder)
    if dim >= table.shape[1]:
        projected = table[:, :dim]
    else:
        centred = (table - table.mean(dim=0, keepdim=True)).double()
        # Eigenvectors of the (hidden x hidden) covariance: exact, deterministic, and far cheaper
        # than an SVD of the (vocab x hidden) table.
        _, vectors = torch.linalg.eigh(centred.T @ centred)
        projected = (centred @ vectors[:, -dim:].flip(1)).float()
    return projected * (std / projected.std().clamp(min=1e-8))


def initialise(embedding: torch.nn.Embedding, folder: str, std: float) -> None:
    from edgekd.errors import ConfigError

    table = principal_table(folder, embedding.embedding_dim, std)
    if table.shape[0] != embedding.num_embeddings:
        raise ConfigError(f"embedding_init {folder}: the teacher has {table.shape[0]} tokens, the student "
                          f"{embedding.num_embeddings}; they must share the tokenizer")
    with torch.no_grad():
        embedding.weight.copy_(table)
        if embedding.padding_idx is not None:
            embedding.weight[embedding.padding_idx].zero_()
