"""Typed pipeline configuration.

YAML is read with `yaml.safe_load` only (never executed) and validated into pydantic models that forbid
unknown keys, so a typo is an error naming the file and the field rather than a silently ignored line.
Each stage contributes its own config class (see `edgekd.stages`); they form a union tagged by `type`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, TypeAdapter, ValidationError, model_validator

from edgekd.errors import ConfigError


class StrictModel(BaseModel):
    """Base for every config object: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


class StageConfig(StrictModel):
    """Fields every stage has. `name` defaults to the stage type and must be unique in a pipeline."""

    type: str
    name: Optional[str] = None

    @property
    def stage_name(self) -> str:
        return self.name or self.type


class PipelineConfig(StrictModel):
    """A whole pipeline: data, where artifacts go, and the ordered stages."""

    name: str
    artifacts_dir: str = "artifacts"
    seed: int = 0
    threads: Optional[PositiveInt] = Field(
        default=None, description="torch intra-op threads for training; default: all cores"
    )
    data: Any = Field(default=None, description="a data source mapping with `type:` (default: idx, Fashion-MNIST)")
    stages: list[Any] = Field(min_length=1)
    source: Optional[str] = Field(default=None, exclude=True, description="file the config came from")

    @model_validator(mode="after")
    def _typed_stages(self) -> "PipelineConfig":
        from edgekd.data.registry import parse_data_config

        self.__dict__["data"] = parse_data_config(self.data)
        adapter = stage_union_adapter()
        self.__dict__["stages"] = [
            stage if isinstance(stage, StageConfig) else adapter.validate_python(stage)
            for stage in self.stages
        ]
        names = [stage.stage_name for stage in self.stages]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"stage names must be unique; repeated: {', '.join(duplicates)} (set `name:`)")
        return self


def stage_union_adapter() -> TypeAdapter:
    """A validator for any registered stage config, chosen by its `type` field."""
    from edgekd.stages import STAGES

    configs = tuple(stage.Config for stage in STAGES.values())
    union = Annotated[Union[configs], Field(discriminator="type")] if len(configs) > 1 else configs[0]
    return TypeAdapter(union)


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """Read and validate a pipeline YAML file. Every problem becomes one `ConfigError` line."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read pipeline file ({exc.strerror or exc})") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} not valid YAML ({getattr(exc, 'problem', None) or exc})") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of pipeline fields at the top level")
    raw = _apply_overrides(raw, overrides or {}, path)
    return parse_config(raw, source=str(path))


def parse_config(raw: dict[str, Any], source: str = "<config>") -> PipelineConfig:
    """Validate an already-parsed mapping (used by tests and by the CLI's overrides)."""
    if raw.get("data") is None or isinstance(raw.get("data"), dict):
        from edgekd.data.registry import parse_data_config

        try:
            parse_data_config(raw.get("data"))
        except ValidationError as exc:
            raise ConfigError(f"{source}: {describe_validation_error(exc, raw, prefix=('data',))}") from None
    stages = raw.get("stages")
    if isinstance(stages, list):
        # Validate each stage on its own first: errors then carry the stage's index and type.
        adapter = stage_union_adapter()
        for index, stage in enumerate(stages):
            try:
                adapter.validate_python(stage)
            except ValidationError as exc:
                detail = describe_validation_error(exc, raw, prefix=("stages", index))
                raise ConfigError(f"{source}: {detail}") from None
    try:
        config = PipelineConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe_validation_error(exc, raw)}") from None
    config.__dict__["source"] = source
    return config


def describe_validation_error(exc: ValidationError, raw: Any, prefix: tuple = ()) -> str:
    """First error as `field.path: problem`, with stage indices shown as `stages[2](distill)`."""
    error = exc.errors()[0]
    location = _format_location(prefix + tuple(error["loc"]), raw)
    message = error["msg"].removeprefix("Value error, ")  # pydantic's prefix for our own checks
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif error["type"] == "union_tag_invalid" and prefix[:1] == ("data",):
        from edgekd.data.registry import DATA_SOURCES

        message = f"unknown data source type {error['input'].get('type')!r}; known: {', '.join(DATA_SOURCES)}"
    elif error["type"] == "union_tag_invalid":
        from edgekd.stages import STAGES

        message = f"unknown stage type {error['input'].get('type')!r}; known: {', '.join(STAGES)}"
    elif error["type"] == "model_attributes_type":
        message = "expected a mapping of fields"
    elif error["type"] == "union_tag_not_found":
        message = "each stage needs a `type`"
    extra = f" (+{len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"{location or '<top>'}: {message}{extra}"


def _format_location(loc: tuple, raw: Any) -> str:
    parts: list[str] = []
    node = raw
    for key in loc:
        if isinstance(key, int):
            node = node[key] if isinstance(node, list) and key < len(node) else None
            kind = f"({node['type']})" if isinstance(node, dict) and "type" in node else ""
            parts.append(f"[{key}]{kind}")
        elif isinstance(node, dict) and key == node.get("type") and key not in node:
            continue  # pydantic inserts the union tag into the path; the user never wrote it
        else:
            parts.append(("." if parts else "") + str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return "".join(parts)


def _apply_overrides(raw: dict, overrides: dict[str, Any], path: Path) -> dict:
    """Apply `a.b=value` overrides from the command line onto the raw mapping."""
    for dotted, value in overrides.items():
        node = raw
        keys = dotted.split(".")
        for key in keys[:-1]:
            if isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            elif isinstance(node, dict):
                node = node.setdefault(key, {})
            else:
                raise ConfigError(f"{path}: override {dotted!r} does not name a field")
        if isinstance(node, list) and keys[-1].isdigit():
            node[int(keys[-1])] = value
        elif isinstance(node, dict):
            node[keys[-1]] = value
        else:
            raise ConfigError(f"{path}: override {dotted!r} does not name a field")
    return raw
