"""Raw source arrays -> normalised float32 splits and the `InputSpec` that says how.

Values are divided by the source's divisor (255 for uint8), then standardised per channel (images,
sequences) or per feature (tables) with the configured mean/std, or with statistics of the training
split (`auto`). The same numbers go into the input spec, so exported files can be fed the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgekd.data.input_spec import InputSpec


@dataclass
class Dataset:
    """A split as model inputs (float32 normalised, or int64 token ids) and int64 labels."""

    inputs: np.ndarray
    labels: np.ndarray
    labelled: bool = True  # False for unlabeled text: labels are placeholders, accuracy means nothing

    def __len__(self) -> int:
        return len(self.labels)


def _axes(layout: str) -> tuple[int, ...]:
    """Axes averaged over for per-channel statistics (every axis but the channel / feature one)."""
    return {"NCHW": (0, 2, 3), "NCL": (0, 2), "NC": (0,)}[layout]


def _stat(value, computed: np.ndarray | None, channels: int, what: str) -> np.ndarray | None:
    from edgekd.errors import ConfigError

    if value is None:
        return None
    if value == "auto":
        return computed
    values = np.atleast_1d(np.asarray(value, dtype=np.float32))
    if len(values) not in (1, channels):
        raise ConfigError(f"data.{what}: {len(values)} values for {channels} channels")
    return np.broadcast_to(values, (channels,)).astype(np.float32)


def statistics(raw, config) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(mean, std) per channel, float32, from the config or computed on the whole training split."""
    if raw.layout == "NL":  # token ids
        return None, None
    channels = raw.train_x.shape[1]
    computed_mean = computed_std = None
    if "auto" in (config.mean, config.std):
        x = np.asarray(raw.train_x, dtype=np.float64) / raw.divisor
        computed_mean = x.mean(axis=_axes(raw.layout)).astype(np.float32)
        computed_std = np.maximum(x.std(axis=_axes(raw.layout)), 1e-6).astype(np.float32)
    return (_stat(config.mean, computed_mean, channels, "mean"),
            _stat(config.std, computed_std, channels, "std"))


def normalise(x, raw, mean, std) -> np.ndarray:
    if raw.layout == "NL":  # token ids stay integers (int64, what embeddings and ONNX take)
        return np.ascontiguousarray(x, dtype=np.int64)
    shape = (1, -1) + (1,) * (len(raw.train_x.shape) - 2)
    out = np.asarray(x).astype(np.float32)
    if raw.divisor != 1.0:
        out = out / np.float32(raw.divisor)
    if mean is not None:
        out = out - mean.reshape(shape)
    if std is not None:
        out = out / std.reshape(shape)
    return np.ascontiguousarray(out, dtype=np.float32)


def input_spec(raw, mean, std) -> InputSpec:
    if raw.layout == "NL":
        tokens = raw.tokens
        return InputSpec(shape=(int(raw.train_x.shape[1]),), layout="NL", dtype="int64",
                         class_names=tuple(raw.class_names),
                         preprocessing=(f"tokenised by {tokens['tokenizer']} to {tokens['max_length']} ids, padded "
                                        f"with {tokens['pad_id']}; attention_mask = ids != {tokens['pad_id']}"),
                         extra={k: tokens[k] for k in ("pad_id", "vocab_size", "max_length", "tokenizer",
                                                       "tokenizer_sha256")})
    steps = [f"x/{raw.divisor:g}"] if raw.divisor != 1.0 else []
    if mean is not None or std is not None:
        steps.append("(x-mean)/std per " + ("feature" if raw.layout == "NC" else "channel"))
    return InputSpec(shape=tuple(int(d) for d in raw.train_x.shape[1:]), layout=raw.layout, dtype="float32",
                     mean=tuple(float(v) for v in mean) if mean is not None else (),
                     std=tuple(float(v) for v in std) if std is not None else (),
                     class_names=tuple(raw.class_names), preprocessing=", then ".join(steps) or "none")
