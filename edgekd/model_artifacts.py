"""A trained PyTorch model inside an artifact: `model.safetensors` plus its registry name and kwargs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgekd.artifacts import Artifact

WEIGHTS_FILE = "model.safetensors"


def save_model(model, name: str, kwargs: dict[str, Any], out: Path) -> dict[str, Any]:
    """Write the weights; return the manifest fields that let a later stage rebuild the model."""
    from edgekd.checkpoints import save_weights
    from edgekd.zoo import count_params

    save_weights(model, out / WEIGHTS_FILE)
    return {"model": name, "model_kwargs": kwargs, "params": count_params(model)}


def load_model(artifact: Artifact):
    """Rebuild the model an artifact holds, in eval mode."""
    from edgekd.checkpoints import load_model as load_checkpoint

    metrics = artifact.metrics
    return load_checkpoint(metrics["model"], artifact.file(WEIGHTS_FILE), **metrics["model_kwargs"])


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(axis=1) == labels).mean())


def torch_logits(model, inputs: np.ndarray) -> np.ndarray:
    from edgekd.runtimes.base import predict
    from edgekd.runtimes.torch_ref import TorchRuntime

    return predict(TorchRuntime(model), inputs, batch_size=512)
