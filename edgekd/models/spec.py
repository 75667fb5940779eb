"""The one model spec every stage takes: `builtin:fmnist_student`, `timm:resnet18`,
`torchvision:mobilenet_v3_small`, `file:models/mine.py:build`, `module:pkg.mod:build`, `onnx:t.onnx`,
`hf:path/to/folder` (a local Hugging Face folder).

In YAML it is a short string or a mapping with the string under `name` plus `kwargs`, `checkpoint`
`strip_prefix` and `input_transform` (what of each sample a student reads: cross-input KD, see
`edgekd.data.input_transform`). A bare name (`fmnist_student`) means the built-in zoo, as it always has.
"""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field, model_serializer, model_validator

from edgekd.config import StrictModel
from edgekd.data.input_transform import InputTransform

SOURCES = ("builtin", "timm", "torchvision", "file", "module", "onnx", "hf")


class ModelSpec(StrictModel):
    """Which model, built how, with which weights."""

    name: str = Field(description="`source:target`, e.g. timm:resnet18; a bare name is a built-in model")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of the builder")
    checkpoint: Optional[str] = Field(None, description="weights: .safetensors, or .pt/.pth (weights_only)")
    strip_prefix: Optional[str] = Field(None, description="drop this prefix from checkpoint keys (module., model.)")
    input_transform: Optional[InputTransform] = Field(
        None, description="a student reads these channels / this size of each sample (cross-input KD)")

    @model_serializer(mode="wrap")
    def _without_unset_transform(self, handler):
        # A spec without a transform dumps as it did before the field existed: artifact ids hash the
        # dump, and a new optional field must not invalidate every artifact made before it.
        data = handler(self)
        if self.input_transform is None:
            data.pop("input_transform", None)
        return data

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _known_source(self) -> "ModelSpec":
        source, target = self.source, self.target
        if source not in SOURCES:
            raise ValueError(f"unknown model source {source!r} in {self.name!r}; known: {', '.join(SOURCES)}")
        if not target:
            raise ValueError(f"{self.name!r} names no model after `{source}:`")
        if source in ("file", "module") and ":" not in target:
            raise ValueError(f"{self.name!r}: expected {source}:<{'path.py' if source == 'file' else 'pkg.mod'}>:<callable>")
        return self

    @property
    def source(self) -> str:
        return self.name.split(":", 1)[0] if ":" in self.name else "builtin"

    @property
    def target(self) -> str:
        """What follows `source:`: a registry name, a timm name, `path.py:callable`, a file path."""
        return self.name.split(":", 1)[1] if ":" in self.name else self.name

    @property
    def label(self) -> str:
        """A short name for messages and reports."""
        return self.target if self.source == "builtin" else self.name


def parse_spec(value: Any, field: str = "model") -> ModelSpec:
    """A spec from a string or mapping; a bad one is one `ConfigError` line naming `field`."""
    from pydantic import ValidationError

    from edgekd.errors import ConfigError

    if isinstance(value, ModelSpec):
        return value
    try:
        return ModelSpec.model_validate(value)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ConfigError(f"{field}: {error['msg'].removeprefix('Value error, ')}") from None
