"""Built-in students for token-id data (`data.type: text_csv / jsonl`): a small BERT and a token CNN.

Both take `forward(input_ids, attention_mask=None)` like the `hf:` teachers, build the mask as
`ids != pad_id` when none is given, and read `vocab_size`, `pad_id` and `max_length` from the data's
input spec. On a phone the token embedding is most of either model's bytes; the compute is in the
layers after it. `embedding_init: <hf folder>` starts that embedding from the teacher's
(`edgekd.text.embedding_init`).
"""

from __future__ import annotations

import torch
from torch import nn

from edgekd.text.modules import mask_from_ids, masked_mean


class TinyBert(nn.Module):
    """A BERT built from a `BertConfig` (no pretrained weights): `layers` blocks of width `hidden`,
    mean pooling over real tokens, a linear head. TinyBERT-4 is layers=4, hidden=312."""

    INIT_ONLY_KWARGS = ("embedding_init",)  # only starting values: a rebuild that loads weights skips it
    PADDING_INVARIANT = True  # masked attention and pooling: trailing padding changes nothing
    NEEDS = ("transformers",)  # packages beyond torch that building it imports

    def __init__(self, vocab_size: int, num_classes: int, pad_id: int = 0, max_length: int = 512,
                 hidden: int = 128, layers: int = 2, heads: int = 2, intermediate: int | None = None,
                 dropout: float = 0.1, embedding_init: str | None = None):
        super().__init__()
        from transformers import BertConfig, BertModel

        config = BertConfig(vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers,
                            num_attention_heads=heads, intermediate_size=intermediate or 4 * hidden,
                            max_position_embeddings=max_length, type_vocab_size=1, pad_token_id=pad_id,
                            hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
        config._attn_implementation = "eager"  # exports to ONNX and TFLite alike; gives attention maps
        self.pad_id = pad_id
        self.bert = BertModel(config, add_pooling_layer=False)
        if embedding_init:  # an hf folder: its token embeddings' principal components
            from edgekd.text.embedding_init import initialise

            initialise(self.bert.embeddings.word_embeddings, embedding_init, std=config.initializer_range)
        self.pool = nn.Identity()  # the pooled sentence vector, by name, for feature KD (`layer: pool`)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, input_ids, attention_mask=None):
        mask = mask_from_ids(input_ids, self.pad_id) if attention_mask is None else attention_mask
        hidden = self.bert(input_ids=input_ids, attention_mask=mask).last_hidden_state
        return self.head(self.pool(masked_mean(hidden, mask)))


class TokenCNN(nn.Module):
    """Embeddings, two 1-D convolution blocks over the sequence, max and mean pooling over real tokens
    (Kim 2014 style). Convolutions quantise fully to int8 in both ONNX Runtime and TFLite.
    `vocabulary: training` (resolved by the distill stage to a row count) keeps embedding rows only for
    the ids the training texts use; a lookup table sends every other id to one shared row."""

    INIT_ONLY_KWARGS = ("embedding_init",)  # only starting values: a rebuild that loads weights skips it
    PADDING_INVARIANT = True  # padded positions are zeroed between blocks (see forward)

    def __init__(self, vocab_size: int, num_classes: int, pad_id: int = 0, max_length: int = 512,
                 embed_dim: int = 64, channels: int = 128, kernel_size: int = 3, dropout: float = 0.2,
                 embedding_init: str | None = None, vocabulary: int | None = None):
        super().__init__()
        self.pad_id = pad_id
        self.embedding_init = embedding_init
        if vocabulary is None:
            self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
            self.register_buffer("token_map", None)
        else:  # pruned to the training texts' tokens (edgekd.text.vocabulary): use_vocabulary fills it
            from edgekd.text import vocabulary as pruned

            if not isinstance(vocabulary, int) or isinstance(vocabulary, bool):
                raise ValueError(f"vocabulary: {vocabulary!r}: a row count; `vocabulary: {pruned.REQUEST}` is "
                                 "for the distill stage, which counts the training texts' tokens")
            self.embed = nn.Embedding(pruned.FIRST_ROW + vocabulary, embed_dim, padding_idx=pruned.PAD_ROW)
            self.register_buffer("token_map", pruned.unseen_map(vocab_size, pad_id))
        if embedding_init and vocabulary is None:  # an hf folder: its token embeddings' principal components
            from edgekd.text.embedding_init import initialise

            initialise(self.embed, embedding_init, std=1.0)  # nn.Embedding's own init scale
        self.conv1 = nn.Sequential(nn.Conv1d(embed_dim, channels, kernel_size, padding=kernel_size // 2), nn.ReLU())
        self.conv2 = nn.Sequential(nn.Conv1d(channels, channels, kernel_size, padding=kernel_size // 2), nn.ReLU())
        self.pool = nn.Identity()  # the pooled features, by name, for feature KD (`layer: pool`)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * channels, num_classes))

    def forward(self, input_ids, attention_mask=None):
        mask = mask_from_ids(input_ids, self.pad_id) if attention_mask is None else attention_mask
        keep = mask.unsqueeze(1).to(torch.float32)  # (N, 1, L)
        # Zero the padded positions between blocks, so a row padded to 64 ids gives what its unpadded
        # ids give (convolution's own zero padding) and padding length never changes a prediction.
        rows = input_ids if self.token_map is None else self.token_map[input_ids]
        features = self.conv1(self.embed(rows).transpose(1, 2)) * keep
        features = self.conv2(features) * keep  # (N, C, L)
        peak = (features - (1.0 - keep) * 1e4).amax(dim=2)  # padding never wins the max
        mean = features.sum(dim=2) / keep.sum(dim=2).clamp(min=1.0)
        return self.head(self.pool(torch.cat([peak, mean], dim=1)))

    def use_vocabulary(self, ids) -> None:
        """Rows for `ids` (the training texts' tokens, sorted), started from the teacher's table when
        `embedding_init` names one."""
        from edgekd.text.vocabulary import fill_map, initialise_rows

        fill_map(self.token_map, ids, self.pad_id)
        if self.embedding_init:
            initialise_rows(self.embed, self.embedding_init, 1.0, ids, self.pad_id)
