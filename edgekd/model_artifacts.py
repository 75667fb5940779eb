"""A trained PyTorch model inside an artifact: `model.safetensors` plus what rebuilds it.

The manifest records the model spec, the resolved builder kwargs, the input spec (shape, layout,
normalisation, class names: the preprocessing travels with the model) and, for a pruned model, the
module attributes pruning changed. Loading builds the architecture fresh, resizes it to the saved
shapes where pruning changed them, and loads the weights strictly from safetensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgekd.artifacts import Artifact

WEIGHTS_FILE = "model.safetensors"


def save_model(model, spec, kwargs: dict[str, Any], out: Path, input_spec=None,
               shape_changes: dict | None = None) -> dict[str, Any]:
    """Write the weights; return the manifest fields that let a later stage rebuild the model."""
    from edgekd.models.checkpoints import save_weights
    from edgekd.models.spec import parse_spec
    from edgekd.zoo import count_params

    spec = parse_spec(spec)
    save_weights(model, out / WEIGHTS_FILE)
    fields = {"model": spec.label, "model_spec": spec.model_dump(mode="json", exclude={"checkpoint", "strip_prefix"}),
              "model_kwargs": kwargs, "params": count_params(model)}
    if input_spec is not None:
        fields["input_spec"] = input_spec.to_dict()
    if shape_changes:
        fields["shape_changes"] = shape_changes
    return fields


def model_fields(artifact: Artifact) -> dict[str, Any]:
    """The rebuild fields of a model artifact, for a stage that saves a changed copy of it."""
    metrics = artifact.metrics
    return {"spec": metrics.get("model_spec") or metrics["model"], "kwargs": metrics["model_kwargs"],
            "input_spec": input_spec_of(artifact), "shape_changes": metrics.get("shape_changes")}


def input_spec_of(artifact: Artifact):
    from edgekd.data.input_spec import InputSpec

    found = artifact.metrics.get("input_spec")
    return InputSpec.from_dict(found) if found else None


def load_model(artifact: Artifact):
    """Rebuild the model an artifact holds, in eval mode."""
    return load_weights_into_spec(model_fields(artifact), artifact.file(WEIGHTS_FILE))


def load_weights_into_spec(fields: dict[str, Any], weights: Path):
    """Fresh architecture of `fields`, resized to any pruned shapes, weights loaded strictly."""
    from edgekd.models.build import instantiate_for_weights
    from edgekd.models.checkpoints import load_state_strict, read_state_dict
    from edgekd.models.reshape import resize_to
    from edgekd.models.spec import parse_spec

    spec = parse_spec(fields["spec"])
    model = instantiate_for_weights(spec, fields["kwargs"])
    state = read_state_dict(weights)
    if fields.get("shape_changes"):
        resize_to(model, state, fields["shape_changes"])
    load_state_strict(model, state, str(weights), repr(spec.label))
    return model.eval()


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits.argmax(axis=1) == labels).mean())


def per_class_accuracy(logits: np.ndarray, labels: np.ndarray, class_names) -> dict[str, float]:
    """Accuracy on each class that occurs in `labels`, keyed by class name."""
    predicted = logits.argmax(axis=1)
    names = list(class_names) or [str(i) for i in range(logits.shape[1])]
    return {names[c]: float((predicted[labels == c] == c).mean()) for c in range(len(names)) if (labels == c).any()}


def torch_logits(model, inputs: np.ndarray) -> np.ndarray:
    from edgekd.runtimes.base import predict
    from edgekd.runtimes.torch_ref import TorchRuntime

    return predict(TorchRuntime(model), inputs, batch_size=512)
