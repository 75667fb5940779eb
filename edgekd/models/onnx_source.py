"""`onnx:<path>`: a teacher that exists only as an exported ONNX file; ONNX Runtime computes its logits.

The module wraps an ORT session behind `forward`, so the cache stage treats it like any teacher. It
has no parameters to train, quantise or export, and no layers for feature KD.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from torch import nn

from edgekd.errors import CheckpointError


class OnnxTeacher(nn.Module):
    """An ONNX file as a frozen, float-input PyTorch module (inference only, on the CPU)."""

    def __init__(self, path: str):
        super().__init__()
        from edgekd.runtimes.onnxruntime_rt import OrtRuntime

        self.path = path
        self.runtime = OrtRuntime(Path(path), threads=None)  # the cache pass may use every core

    def parameter_count(self) -> int:
        """Elements in the file's float initializers: what `count_params` would say of the original."""
        import numpy as np
        import onnx

        graph = onnx.load(self.path).graph
        return int(sum(np.prod(t.dims) for t in graph.initializer if t.data_type == onnx.TensorProto.FLOAT))

    def forward(self, x):
        import torch

        return torch.from_numpy(self.runtime.run(x.detach().cpu().numpy()))


def resolve_kwargs(target: str, kwargs: dict, input_spec) -> dict:
    if kwargs:
        raise CheckpointError(f"onnx:{target} takes no kwargs (got {sorted(kwargs)})")
    return {}


def build(target: str, kwargs: dict):
    if not Path(target).is_file():
        raise CheckpointError(f"ONNX teacher {target} not found (onnx:{target})")
    return OnnxTeacher(target)


def fingerprint(target: str) -> str | None:
    path = Path(target)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
