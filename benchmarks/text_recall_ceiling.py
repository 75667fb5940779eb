"""How strict is recall@10 ≥ 0.8 (issue 14's embedder floor)? Models nearer the teacher than any 8×-smaller student, scored the same way.

    .venv/bin/python benchmarks/text_recall_ceiling.py

The embedder floor asks a student ≥ 8× smaller than all-MiniLM-L6-v2 to return, for each held-out
sentence, ≥ 8 of the teacher's 10 nearest neighbours among the other held-out sentences (2,778
Rotten Tomatoes snippets: pipelines/sentence_embedder.yaml's test split). This script scores, with
`edgekd.text.retrieval`, models that are the teacher itself minus something, so that the floor can be
read against them:
- `teacher_first_k_layers`: MiniLM with only its first k of 6 layers (the DistilBERT-style
  initialisation a layer-dropping student starts from), no training;
- `teacher_fp16_weights`: MiniLM with every weight rounded to fp16 (what rounding alone costs);
- `teacher_int8_linear`: every Linear's weights rounded to int8, one scale per output row (the
  weight error of int8 export, activations kept float);
- `static_token_vectors_pca64`: each vocabulary token run through MiniLM alone, its vector projected
  to 64 principal components, a sentence being the mean over its tokens (Model2Vec's recipe): a
  30,522 × 64 table, 11.6× smaller than MiniLM, with no training;
- `teacher_plus_noise_<s>`: the teacher's own vectors plus Gaussian noise of `s` × their per-dimension
  spread: the Spearman a student must reach before recall@10 reaches a given level.
Each row has its parameter count and its ratio to MiniLM's. Writes benchmarks/results/text_recall_ceiling.json.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe_machine  # noqa: E402
from edgekd.context import DataSource  # noqa: E402
from edgekd.models.hf_source import HfTextModel  # noqa: E402
from edgekd.package_paths import resolve  # noqa: E402
from edgekd.text.retrieval import retrieval_fidelity  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "text_recall_ceiling.json"
PIPELINE = ROOT / "pipelines" / "sentence_embedder.yaml"


def embed(model: HfTextModel, ids: np.ndarray, pad_id: int, batch: int = 128) -> np.ndarray:
    out = []
    with torch.inference_mode():
        for start in range(0, len(ids), batch):
            chunk = torch.from_numpy(ids[start:start + batch]).long()
            out.append(model(chunk, (chunk != pad_id).long()).numpy())
    return np.concatenate(out)


def params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def first_layers(folder: str, k: int) -> HfTextModel:
    model = HfTextModel(folder, task="embedding").eval()
    model.model.encoder.layer = model.model.encoder.layer[:k]
    return model


def rounded(folder: str, how: str) -> HfTextModel:
    model = HfTextModel(folder, task="embedding").eval()
    with torch.no_grad():
        for module in model.modules():
            if how == "fp16":
                for p in module.parameters(recurse=False):
                    p.copy_(p.half().float())
            elif isinstance(module, torch.nn.Linear):
                w = module.weight
                scale = w.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127.0
                w.copy_(torch.round(w / scale).clamp(-127, 127) * scale)
    return model


def static_vectors(folder: str, vocab: int, pad_id: int, dim: int) -> np.ndarray:
    """(vocab, dim): each token alone between [CLS] and [SEP] through MiniLM, mean-pooled, then PCA."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model = HfTextModel(folder, task="embedding").eval()
    ids = np.stack([np.full(vocab, tokenizer.cls_token_id), np.arange(vocab), np.full(vocab, tokenizer.sep_token_id)],
                   axis=1)
    vectors = embed(model, ids, pad_id=-1, batch=512)  # no padding: every row is three real tokens
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    table = centred @ components[:dim].T
    table[pad_id] = 0.0
    return table.astype(np.float32)


def static_embed(table: np.ndarray, ids: np.ndarray, pad_id: int) -> np.ndarray:
    mask = (ids != pad_id)[..., None]
    return (table[ids] * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1)


def main() -> None:
    torch.manual_seed(0)
    raw = yaml.safe_load(PIPELINE.read_text())
    folder = str(resolve(raw["stages"][0]["model"]["name"].removeprefix("hf:")))
    data = DataSource(raw["data"], ROOT / "artifacts" / ".data")
    test = data.split("test")
    ids, pad_id = np.asarray(test.inputs), int(data.input_spec.extra["pad_id"])
    started = time.perf_counter()
    teacher = HfTextModel(folder, task="embedding").eval()
    reference = embed(teacher, ids, pad_id)
    full = params(teacher)
    rows = []

    def score(name: str, vectors: np.ndarray, count: int) -> None:
        row = {"model": name, "params": count, "params_ratio": full / count, **retrieval_fidelity(vectors, reference)}
        rows.append(row)
        print(json.dumps(row))

    score("teacher", reference, full)
    for k in range(5, 0, -1):
        model = first_layers(folder, k)
        score(f"teacher_first_{k}_layers", embed(model, ids, pad_id), params(model))
    score("teacher_fp16_weights", embed(rounded(folder, "fp16"), ids, pad_id), full)
    score("teacher_int8_linear", embed(rounded(folder, "int8"), ids, pad_id), full)
    table = static_vectors(folder, len(teacher.model.embeddings.word_embeddings.weight), pad_id, 64)
    score("static_token_vectors_pca64", static_embed(table, ids, pad_id), table.size)
    rng, spread = np.random.default_rng(0), reference.std(axis=0, keepdims=True)
    for level in (0.05, 0.1, 0.2, 0.3, 0.5, 1.0):
        score(f"teacher_plus_noise_{level}", reference + level * spread * rng.standard_normal(reference.shape), full)
    result = {"machine": describe_machine(), "command": "benchmarks/text_recall_ceiling.py",
              "heldout_sentences": int(len(ids)), "k": 10, "rows": rows,
              "wall_seconds": time.perf_counter() - started}
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
