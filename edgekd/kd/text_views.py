"""Teacher-labelled text augmentation: K edited copies of every training text, each scored by the
teacher once in the cache stage and replayed exactly in training.

A small student trained on ~10k sentences sees most words a handful of times; the teacher knows them
from pre-training. Distilling on edited copies of the corpus carries that knowledge over, which plain
KD on the same 10k sentences does not (Tang et al. 2019, "Distilling Task-Specific Knowledge from BERT
into Simple Neural Networks": masking, word replacement and n-gram sampling; TinyBERT, Jiao et al.
2020, replaces words by their embedding neighbours). Because the teacher labels every copy, an edit
that flips a review's meaning is not a wrong label: the soft target follows it. The edits of one view:
- `window`: with this probability, keep one contiguous span of 50-100 % of the text's tokens;
- `mask`: each token, with this probability, becomes the tokenizer's mask token;
- `swap`: each other token, with this probability, becomes one of its `neighbours` nearest tokens
  (cosine) in the teacher's own token-embedding table, a word piece for a word piece.
Special tokens (CLS, SEP, ...) stay in place and padding stays at the end. View v of sample i is drawn
from a generator seeded with (seed, i, v), so it does not depend on batch, shard or process count.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass(frozen=True)
class TextViewPolicy:
    """What `text_views` needs: the edit rates and the tokenizer's special ids."""

    views: int
    mask: float = 0.1
    swap: float = 0.1
    window: float = 0.25
    neighbours: int = 8
    keep_original: bool = True  # view 0 is the text itself, as the student meets it after export
    seed: int = 0
    pad_id: int = 0
    mask_id: int | None = None
    special_ids: tuple[int, ...] = ()
    # token id -> its swap candidates (only the ids the training texts use)
    candidates: dict[int, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def describe(self) -> dict:
        return {"kind": "text", "views": self.views, "mask": self.mask, "swap": self.swap, "window": self.window,
                "neighbours": self.neighbours, "keep_original": self.keep_original, "seed": self.seed}


def nearest_tokens(table: torch.Tensor, tokens: np.ndarray, count: int, excluded: np.ndarray,
                   continuation: np.ndarray | None = None, chunk: int = 1024) -> dict[int, np.ndarray]:
    """For each token id in `tokens`: the `count` other ids closest in cosine to it in `table`
    (vocab, hidden), never an `excluded` id and, when `continuation` marks word pieces that continue a
    word ("##ing"), only ids of the same kind."""
    unit = torch.nn.functional.normalize(table.float(), dim=1)
    banned = torch.zeros(len(table), dtype=torch.bool)
    banned[torch.as_tensor(excluded, dtype=torch.long)] = True
    kinds = None if continuation is None else torch.as_tensor(continuation, dtype=torch.bool)
    found: dict[int, np.ndarray] = {}
    tokens = np.asarray(tokens, dtype=np.int64)
    for first in range(0, len(tokens), chunk):
        ids = torch.as_tensor(tokens[first:first + chunk])
        scores = unit[ids] @ unit.T  # (chunk, vocab)
        scores[:, banned] = -2.0
        scores[torch.arange(len(ids)), ids] = -2.0  # never the token itself
        if kinds is not None:
            scores[kinds[ids][:, None] != kinds[None, :]] = -2.0
        best = scores.topk(count, dim=1).indices.numpy()
        found.update({int(token): row for token, row in zip(ids.tolist(), best)})
    return found


def text_views(rows: np.ndarray, samples: np.ndarray, policy: TextViewPolicy) -> np.ndarray:
    """(n, views, length) edited copies of padded token rows (n, length); sample ids seed the edits."""
    out = np.full((len(rows), policy.views, rows.shape[1]), policy.pad_id, dtype=rows.dtype)
    special = np.asarray(policy.special_ids, dtype=rows.dtype)
    for i, (row, sample) in enumerate(zip(rows, samples)):
        for v in range(policy.views):
            if v == 0 and policy.keep_original:
                out[i, v] = row
                continue
            generator = np.random.default_rng([policy.seed, int(sample), v])
            edited = _edit(row[row != policy.pad_id], special, policy, generator)
            out[i, v, :len(edited)] = edited
    return out


def _edit(ids: np.ndarray, special: np.ndarray, policy: TextViewPolicy, generator: np.random.Generator) -> np.ndarray:
    """One view of one text's ids (padding removed): specials at either end kept, the words between edited."""
    content = np.flatnonzero(~np.isin(ids, special))
    start, stop = (int(content[0]), int(content[-1]) + 1) if len(content) else (len(ids), len(ids))
    words = ids[start:stop].copy()
    # Draw every random number in a fixed order, whatever is used, so one rate never shifts another's draws.
    keep_window, span_fraction, span_start = generator.random(3)
    masked = generator.random(len(words)) < policy.mask
    swapped = generator.random(len(words)) < policy.swap
    choice = generator.integers(0, max(policy.neighbours, 1), size=len(words))
    if policy.mask_id is not None:
        words[masked & ~np.isin(words, special)] = policy.mask_id
    else:
        masked[:] = False
    for j in np.flatnonzero(swapped & ~masked):
        options = policy.candidates.get(int(words[j]))
        if options is not None and len(options):
            words[j] = options[choice[j] % len(options)]
    if keep_window < policy.window and len(words) > 1:
        span = max(1, int(np.ceil(len(words) * (0.5 + 0.5 * span_fraction))))
        offset = int(span_start * (len(words) - span + 1))
        words = words[offset:offset + span]
    return np.concatenate([ids[:start], words, ids[stop:]])


def policy_for(config, teacher: torch.nn.Module, rows: np.ndarray, tokenizer_folder: str | None,
               vocab_size: int, where: str) -> TextViewPolicy:
    """The policy of a `kind: text` views config: the tokenizer's special and mask ids, and swap
    candidates for every token the training rows use, from the teacher's own token-embedding table."""
    from edgekd.errors import ConfigError
    from edgekd.text.tokenizer import load_tokenizer

    if tokenizer_folder is None:
        raise ConfigError(f"{where}: text views need a token-id source with a `tokenizer` (text_csv, jsonl)")
    tokenizer = load_tokenizer(tokenizer_folder)
    if config.mask > 0 and tokenizer.mask_token_id is None:
        raise ConfigError(f"{where}: the tokenizer has no mask token; set mask: 0")
    special = tuple(sorted(set(tokenizer.all_special_ids) | {tokenizer.pad_token_id}))
    neighbours: dict[int, np.ndarray] = {}
    if config.swap > 0:
        table = token_table(teacher, vocab_size)
        if table is None:
            raise ConfigError(f"{where}: swap needs the first teacher's token embedding (an nn.Embedding with "
                              f"{vocab_size} rows); set swap: 0")
        pieces = tokenizer.convert_ids_to_tokens(list(range(min(vocab_size, len(table)))))
        continuation = np.array([str(piece).startswith("##") for piece in pieces], dtype=bool)
        used = np.setdiff1d(np.unique(rows), np.asarray(special))
        neighbours = nearest_tokens(table[:len(continuation)], used, config.neighbours,
                                    np.asarray(special), continuation)
    return TextViewPolicy(views=config.count, mask=config.mask, swap=config.swap, window=config.window,
                          neighbours=config.neighbours, keep_original=config.keep_original, seed=config.seed,
                          pad_id=int(tokenizer.pad_token_id), mask_id=tokenizer.mask_token_id,
                          special_ids=special, candidates=neighbours)


def token_table(model: torch.nn.Module, vocab_size: int) -> torch.Tensor | None:
    """The model's token-embedding weights: its first nn.Embedding with `vocab_size` rows (or more:
    some checkpoints pad the table), else None."""
    for module in model.modules():
        if isinstance(module, torch.nn.Embedding) and module.num_embeddings >= vocab_size:
            return module.weight.detach()
    return None
