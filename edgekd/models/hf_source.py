"""`hf:<local folder>`: a Hugging Face transformers model from a folder on disk, never from a hub.

`kwargs.task` says what the model gives:
- `classification` (default): logits. A folder saved as `*ForSequenceClassification` keeps its own
  head; a bare encoder (`BertModel`, a sentence embedder) gets mean pooling and a new linear head.
- `embedding`: the mean-pooled last hidden state, L2-normalised when the folder is a
  sentence-transformers model with a Normalize module (as all-MiniLM-L6-v2 is).
- `encoder`: the last hidden state, for feature KD.
The module takes `input_ids` and an optional `attention_mask` (else `ids != pad_id`). Weights load
from safetensors only (`use_safetensors=True`): a folder with only `pytorch_model.bin` is refused.
"""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from edgekd.errors import CheckpointError

TASKS = ("classification", "embedding", "encoder")
HUB_KWARGS = ("revision", "token", "trust_remote_code")


def check_folder(target: str) -> Path:
    """The model folder (a path or pkg://package/folder), with a config and safetensors weights."""
    from edgekd.errors import DataError
    from edgekd.package_paths import resolve

    try:
        folder = resolve(target)
    except DataError as exc:
        raise CheckpointError(f"hf:{exc}") from None
    if not folder.is_dir():
        raise CheckpointError(f"hf:{target}: folder not found")
    if not (folder / "config.json").is_file():
        raise CheckpointError(f"hf:{target}: no config.json (not a Hugging Face model folder)")
    if not any(folder.glob("*.safetensors")) and not (folder / "model.safetensors.index.json").is_file():
        found = "pytorch_model.bin, which is pickled and never loaded" if (folder / "pytorch_model.bin").is_file() else "none"
        raise CheckpointError(f"hf:{target}: no model.safetensors (weights found: {found})")
    return folder


class HfTextModel(nn.Module):
    """A transformers model behind edgekd's text-model interface: `forward(input_ids, attention_mask=None)`."""

    # Trailing padding is masked out of attention and pooling, so cutting it off changes no output
    # beyond float rounding: the cache runs such teachers on rows trimmed to their length.
    PADDING_INVARIANT = True

    def __init__(self, folder: str, task: str = "classification", num_classes: int | None = None,
                 pad_id: int = 0, dropout: float = 0.1):
        super().__init__()
        from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification

        from edgekd.quiet import transformers_quiet

        if task not in TASKS:
            raise CheckpointError(f"hf:{folder}: unknown task {task!r}; expected one of {', '.join(TASKS)}")
        path = check_folder(folder)
        self.task, self.pad_id = task, pad_id
        with transformers_quiet():
            config = AutoConfig.from_pretrained(str(path), local_files_only=True)
            own_head = any(a.endswith("ForSequenceClassification") for a in config.architectures or [])
            load = dict(local_files_only=True, use_safetensors=True, attn_implementation="eager")
            if task == "classification" and own_head:
                if num_classes is not None and config.num_labels != num_classes:
                    raise CheckpointError(f"hf:{folder} classifies {config.num_labels} labels but the data has "
                                          f"{num_classes} classes")
                self.model, self.head = AutoModelForSequenceClassification.from_pretrained(str(path), **load), None
            else:
                self.model = AutoModel.from_pretrained(str(path), **load)
                self.head = None
                if task == "classification":
                    if not num_classes:
                        raise CheckpointError(f"hf:{folder}: a classification head needs num_classes")
                    self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(config.hidden_size, num_classes))
        self.normalize = task == "embedding" and _sentence_transformers_normalises(path)
        self.pool = nn.Identity()  # the pooled sentence vector, by name, for feature KD (`layer: pool`)

    def forward(self, input_ids, attention_mask=None):
        from edgekd.text.modules import mask_from_ids, masked_mean

        mask = mask_from_ids(input_ids, self.pad_id) if attention_mask is None else attention_mask
        if self.task == "classification" and self.head is None:
            return self.model(input_ids=input_ids, attention_mask=mask).logits
        hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
        if self.task == "encoder":
            return hidden
        pooled = self.pool(masked_mean(hidden, mask))
        if self.task == "embedding":
            return nn.functional.normalize(pooled, dim=-1) if self.normalize else pooled
        return self.head(pooled)


def _sentence_transformers_normalises(folder: Path) -> bool:
    modules = folder / "modules.json"
    if not modules.is_file():
        return False
    return any(m.get("type", "").endswith("Normalize") for m in json.loads(modules.read_text()))


def resolve_kwargs(target: str, kwargs: dict, input_spec) -> dict:
    asked = [key for key in HUB_KWARGS if kwargs.get(key)]
    if asked:
        raise CheckpointError(f"hf:{target}: `{asked[0]}` is a hub setting; edgekd loads local folders only")
    resolved = {"task": "classification", **kwargs}
    if input_spec is not None:
        if resolved["task"] == "classification" and input_spec.num_classes:
            resolved.setdefault("num_classes", input_spec.num_classes)
        if "pad_id" in input_spec.extra:
            resolved.setdefault("pad_id", int(input_spec.extra["pad_id"]))
    return resolved


def build(target: str, kwargs: dict):
    return HfTextModel(target, **kwargs)


def fingerprint(target: str) -> str:
    """Digest of the folder's config, weights and tokenizer: what the model is, wherever it lives."""
    import hashlib

    from edgekd.artifacts import file_digest

    folder = check_folder(target)
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.json")) + sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.txt")):
        digest.update(path.name.encode())
        digest.update(file_digest(path).encode())
    return digest.hexdigest()
