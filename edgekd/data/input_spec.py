"""What a model's input is: shape, layout, dtype, normalisation and class names.

Every data source returns one, every model artifact records it, and every exported file carries it
(ONNX `metadata_props`, a JSON sidecar next to a `.tflite`), the way timm's `pretrained_cfg` travels
with a model: an app, or `edgekd bench`, can then feed a file correctly without the pipeline.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

# Layouts a source can declare. Images are NCHW inside edgekd (PyTorch's convention); a source whose
# files are NHWC transposes once at load time and says so in `source_layout`.
LAYOUTS = ("NCHW", "NCL", "NC", "NL")  # NL: rows of token ids
METADATA_KEY = "edgekd.input_spec"  # the ONNX metadata_props key and the sidecar's top-level key


@dataclass(frozen=True)
class InputSpec:
    """One sample's input as the model sees it, after normalisation (the batch dim is not included)."""

    shape: tuple[int, ...]
    layout: str = "NCHW"
    dtype: str = "float32"
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    class_names: tuple[str, ...] = ()
    # How raw values become model inputs, in words (e.g. "x/255, then (x-mean)/std per channel").
    preprocessing: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def channels(self) -> int:
        """Input channels for image (NCHW) and sequence (NCL) data; features for tabular (NC)."""
        return int(self.shape[0])

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("shape", "mean", "std", "class_names"):
            data[key] = list(data[key])
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "InputSpec":
        return cls(shape=tuple(int(d) for d in data["shape"]), layout=data.get("layout", "NCHW"),
                   dtype=data.get("dtype", "float32"), mean=tuple(data.get("mean", ())),
                   std=tuple(data.get("std", ())), class_names=tuple(data.get("class_names", ())),
                   preprocessing=data.get("preprocessing", ""), extra=dict(data.get("extra", {})))
