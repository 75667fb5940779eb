"""The interface a text model exports with: `input_ids` and `attention_mask`, int64, dynamic batch
and length, as a tokenizer gives them. Inside edgekd a text batch is the ids alone (the mask is
`ids != pad_id`); the exported file takes both, so apps feed it what their tokenizer returns."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

INPUT_NAMES = ("input_ids", "attention_mask")


def is_token_batch(sample: np.ndarray) -> bool:
    """Rows of integer ids (N, L), edgekd's text layout; integer images (uint8 NHWC pixels) are not."""
    sample = np.asarray(sample)
    return sample.ndim == 2 and sample.dtype.kind in "iu"


class TokenInputs(nn.Module):
    """`forward(input_ids, attention_mask)` around a text model that takes both."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids, attention_mask)


def export_program(module: nn.Module, sample: np.ndarray):
    """`torch.export` of the two-input interface with dynamic batch and length. A 2 x 2 example at
    least: size-1 dims would be specialised to constants."""
    ids = torch.from_numpy(np.ascontiguousarray(np.resize(sample, (max(2, len(sample[:2])), sample.shape[1]))))
    mask = torch.ones_like(ids)  # tracing does not depend on the mask's values
    batch = torch.export.Dim("batch", min=1, max=4096)
    length = torch.export.Dim("length", min=2, max=max(int(sample.shape[1]), 2))
    shapes = ({0: batch, 1: length}, {0: batch, 1: length})
    return torch.export.export(TokenInputs(module.eval()), (ids, mask), dynamic_shapes=shapes)


def name_dims(path) -> None:
    """Call the exporter's symbolic dims (`s43`, `s53`) `batch` and `length` in the file's inputs."""
    import onnx

    model = onnx.load(str(path))
    for graph_input in model.graph.input:
        for dim, name in zip(graph_input.type.tensor_type.shape.dim, ("batch", "length")):
            if dim.dim_param:
                dim.dim_param = name
    onnx.save(model, str(path))


def feeds(batch: np.ndarray, pad_id: int) -> dict[str, np.ndarray]:
    ids = np.ascontiguousarray(batch, dtype=np.int64)
    return {"input_ids": ids, "attention_mask": (ids != pad_id).astype(np.int64)}
