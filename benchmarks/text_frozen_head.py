"""The other teacher recipe the text issue asks about: a linear head on frozen MiniLM sentence vectors.

    .venv/bin/python benchmarks/text_frozen_head.py

Runs the first two stages of pipelines/sentence_embedder.yaml (MiniLM's normalised mean-pooled
vectors for the same train/test split as text_classifier.yaml, reusing artifacts/), fits
scikit-learn's logistic regression on the training vectors and scores the held-out snippets, for C
in 1, 10, 100 (chosen on the test split: an upper bound for this recipe). Compare with the fully
fine-tuned teacher of text_classifier.yaml. Prints JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edgekd.config import parse_config  # noqa: E402
from edgekd.context import DataSource  # noqa: E402
from edgekd.pipeline import run  # noqa: E402


def main() -> None:
    from sklearn.linear_model import LogisticRegression

    os.chdir(ROOT)
    raw = yaml.safe_load((ROOT / "pipelines" / "sentence_embedder.yaml").read_text())
    raw["stages"] = raw["stages"][:2]  # teacher (as shipped) + cache of its train vectors
    result = run(parse_config(raw, source="pipelines/sentence_embedder.yaml"))
    cache, teacher = result.artifacts["cache"].path, result.artifacts["teacher"]
    train_vectors = np.concatenate([np.load(p) for p in sorted(cache.glob("shard-*.logits.npy"))]).astype(np.float32)
    test_vectors = np.load(teacher.file(teacher.metrics["test_outputs"]))
    labelled = yaml.safe_load((ROOT / "pipelines" / "text_classifier.yaml").read_text())["data"]
    data = DataSource(labelled, ROOT / "artifacts" / ".data")  # same file, rows and split; with labels
    train_labels, test_labels = data.split("train").labels, data.split("test").labels
    started = time.perf_counter()
    scores = {c: LogisticRegression(C=c, max_iter=2000).fit(train_vectors, train_labels).score(test_vectors, test_labels)
              for c in (1.0, 10.0, 100.0)}
    best = max(scores, key=scores.get)
    print(json.dumps({"frozen_head_accuracy": scores[best], "C": best, "by_C": scores,
                      "fit_seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
