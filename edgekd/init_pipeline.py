"""`edgekd init`: a commented pipeline YAML for the user's own teacher, student and data.

Specs are checked without running the user's code: a `file:` factory is looked for in the file's syntax
tree (the file is not executed), a `module:` package is located but not imported, data files are
checked by their headers. The YAML is written to a temporary name, validated with `load_config`
exactly as `edgekd run` will, and only then moved into place.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from edgekd.errors import ConfigError
from edgekd.models.spec import ModelSpec, parse_spec

# The defaults were measured on Fashion-MNIST (benchmarks/README.md, kd_results.json): a teacher of
# 15 epochs (the teacher stage's default) and KD students of 4 epochs on its 60k training images,
# with T = 4 and alpha = 0.5, where KD beat cross-entropy on all three seeds.
REFERENCE_TRAIN_SAMPLES = 60_000
TEACHER_EPOCHS, STUDENT_EPOCHS, MAX_EPOCHS = 15, 4, 30
TEMPERATURE, ALPHA, LR = 4.0, 0.5, 0.05
BASELINE_SEEDS = [0, 1, 2]
CALIBRATION_SAMPLES = 512


def model_spec_from_cli(text: str, field: str, checkpoint: Optional[str] = None) -> ModelSpec:
    """A model spec typed on a command line (`timm:resnet18`, or a `{name: ..., checkpoint: ...}`
    mapping), with `checkpoint` folded in, checked as far as possible without running it."""
    from edgekd.data.cli_spec import flow_mapping

    mapping = flow_mapping(text, field)
    spec = parse_spec(mapping if mapping is not None else text.strip(), field)
    if checkpoint:
        spec = spec.model_copy(update={"checkpoint": checkpoint})
    check_model_spec(spec, field)
    return spec


def check_model_spec(spec: ModelSpec, field: str) -> None:
    """One `ConfigError` line for a spec that cannot build: a missing file or checkpoint, an unknown
    name, a factory the file does not define, hub-download kwargs."""
    from edgekd.errors import EdgeKDError
    from edgekd.models.build import resolve_kwargs
    from edgekd.models.checkpoints import SAFE_SUFFIXES, TORCH_SUFFIXES

    where = f"{field} {spec.name!r}"
    if spec.source == "file":
        path, _, factory = spec.target.rpartition(":")
        _check_factory_in_file(Path(path), factory, where)
    elif spec.source == "module":
        import importlib.util

        package = spec.target.rpartition(":")[0].split(".")[0]
        if importlib.util.find_spec(package) is None:  # finds a top-level package without importing it
            raise ConfigError(f"{where}: no importable package {package!r}")
    elif spec.source == "onnx" and not Path(spec.target).is_file():
        raise ConfigError(f"{where}: ONNX file {spec.target} not found")
    elif spec.source in ("builtin", "timm", "torchvision"):
        try:
            resolve_kwargs(spec)  # an unknown built-in name, or kwargs that would download weights
            _check_library_name(spec)
        except EdgeKDError as exc:
            raise ConfigError(f"{field}: {exc}") from None
    if spec.checkpoint:
        path = Path(spec.checkpoint)
        if not path.is_file():
            raise ConfigError(f"{where}: checkpoint {path} not found")
        if path.suffix not in SAFE_SUFFIXES + TORCH_SUFFIXES:
            raise ConfigError(f"{where}: checkpoint {path} is not {', '.join(SAFE_SUFFIXES + TORCH_SUFFIXES)}")


def _check_factory_in_file(path: Path, factory: str, where: str) -> None:
    import ast

    if not path.is_file():
        raise ConfigError(f"{where}: model file {path} not found")
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except (SyntaxError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: {path} is not valid Python ({exc})") from None
    defined = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if any(alias.name == "*" for alias in node.names):
                return  # a star import can define anything; the run will tell
            defined.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    if factory not in defined:
        raise ConfigError(f"{where}: {path} defines no top-level {factory!r}")


def _check_library_name(spec: ModelSpec) -> None:
    from edgekd.errors import CheckpointError

    if spec.source == "timm":
        import timm

        if not timm.is_model(spec.target):
            raise CheckpointError(f"timm has no model {spec.target!r}")
    elif spec.source == "torchvision":
        import torchvision

        if spec.target not in torchvision.models.list_models():
            raise CheckpointError(f"torchvision has no model {spec.target!r}")


@dataclass
class PipelineChoices:
    """What `init` decided, for the YAML and for the message after it."""

    name: str
    teacher: ModelSpec
    student: ModelSpec
    data: dict[str, Any]  # the `data:` mapping as the user gave it
    train_samples: Optional[int]  # None when the headers did not tell

    @property
    def teacher_is_trained_here(self) -> bool:
        return not self.teacher.checkpoint and self.teacher.source != "onnx"

    def epochs(self, reference: int) -> int:
        """Epochs that show the model about as many samples as the measured Fashion-MNIST run did,
        never fewer than there and at most MAX_EPOCHS."""
        if not self.train_samples:
            return reference
        return max(reference, min(MAX_EPOCHS, math.ceil(reference * REFERENCE_TRAIN_SAMPLES / self.train_samples)))

    @property
    def batch_size(self) -> int:
        """128 as measured; smaller on small data so an epoch still has a few dozen steps."""
        if self.train_samples and self.train_samples < 1024:
            return 32
        if self.train_samples and self.train_samples < 8192:
            return 64
        return 128


def pipeline_yaml(choices: PipelineChoices, path: str) -> str:
    """The commented YAML text for the file at `path`. Values go through `yaml.safe_dump`, so any
    path or name is quoted as YAML needs; the layout and comments are written here."""
    teacher, student = choices.teacher, choices.student
    runs_code = [s.name for s in (teacher, student) if s.source in ("file", "module")]
    # An ONNX teacher has no PyTorch graph to quantise or export, so those stages take the student only.
    models = ["    models: [student]          # an ONNX teacher cannot be quantised or re-exported"] \
        if teacher.source == "onnx" else []
    batch = choices.batch_size
    seen = f"{choices.train_samples} training samples" if choices.train_samples else "an unknown training-set size"
    lines = [
        "# Written by `edgekd init` for your own teacher, student and data. Relative paths are relative",
        "# to the folder edgekd init ran in; run it from there:",
        f"#   edgekd run {path}",
        "# Any field can be overridden for one run, e.g. --set stages.2.train.epochs=2",
    ]
    if runs_code:
        lines += ["# NOTE: these model specs name Python code, and edgekd RUNS that file (or imports that module)",
                  "# to build the model, as any script you run would. Only name code you trust:",
                  *[f"#   {name}" for name in runs_code]]
    lines += [
        f"name: {_flow(choices.name)}",
        "artifacts_dir: artifacts     # every stage's output; a stage whose inputs are unchanged is reused",
        "seed: 0",
        f"data:                        # {_data_comment(choices.data)}",
        *[f"  {key}: {_flow(value)}" for key, value in choices.data.items()],
    ]
    if choices.data.get("type", "idx") == "idx" and choices.data.get("data_dir"):
        lines.append("  # mean/std default to Fashion-MNIST's; for another IDX set add `mean: auto` and `std: auto`")
    lines.append("stages:")
    lines.append(_teacher_stage(choices, batch, seen))
    lines += [
        "  # cache: the teacher runs once over the training split; its logits are stored on disk (fp16)",
        "  - type: cache",
        "    dtype: float16",
        f"  # distill: the student learns from the cached logits (Hinton KD, T {TEMPERATURE}, alpha {ALPHA}: what",
        "  # beat cross-entropy on Fashion-MNIST, benchmarks/README.md); epochs scaled to the data as above",
        "  - type: distill",
        f"    student: {_spec_value(student, indent=6)}",
        f"    train: {{epochs: {choices.epochs(STUDENT_EPOCHS)}, batch_size: {batch}, lr: {LR:g}, "
        f"temperature: {TEMPERATURE}, alpha: {ALPHA}}}",
        f"    baseline_seeds: {_flow(BASELINE_SEEDS)}   # KD and cross-entropy-only students per seed: "
        "the report says whether KD helped",
        f"  # ptq: static int8 (PT2E), activation ranges from {CALIBRATION_SAMPLES} training samples (never test data)",
        "  - type: ptq",
        f"    calibration_samples: {CALIBRATION_SAMPLES}",
        *models,
        "  # export_onnx: ONNX files, each run in ONNX Runtime on the test split and compared with PyTorch",
        "  - type: export_onnx",
        *models,
        "    formats: [fp32, int8]",
        "  # export_tflite: TFLite files, each run in LiteRT on the test split and compared with PyTorch",
        "  - type: export_tflite",
        *models,
        "    formats: [fp32, int8]        # fp16 also exists: weights stored in half precision",
        "  # bench: test accuracy, batch-1 latency (median and p99 of >= 200 runs) and size of every file",
        "  - type: bench",
        "    threads: 1",
        "  # report: teacher vs student in every format: report.md, report.html, report.json",
        "  - type: report",
    ]
    text = "\n".join(lines)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def _teacher_stage(choices: PipelineChoices, batch: int, seen: str) -> str:
    teacher = choices.teacher
    if teacher.source == "onnx":
        comment = "  # teacher: an ONNX file; ONNX Runtime computes its logits, and it is scored on the test split"
    elif teacher.checkpoint:
        comment = "  # teacher: built from its spec, weights from the checkpoint, scored on the test split"
    else:
        comment = (f"  # teacher: trained here with cross-entropy (no checkpoint given); epochs chosen for {seen}\n"
                   "  # (the samples 15 epochs of Fashion-MNIST's 60k show, in 15 to 30 epochs)")
    lines = [comment, "  - type: teacher", f"    model: {_spec_value(teacher, indent=6)}"]
    if choices.teacher_is_trained_here:
        lines.append(f"    train: {{epochs: {choices.epochs(TEACHER_EPOCHS)}, batch_size: {batch}, lr: {LR:g}, "
                     "alpha: 0.0}")
    return "\n".join(lines)


def _spec_value(spec: ModelSpec, indent: int) -> str:
    """A bare string when the spec is only a name, else a block mapping of its set fields."""
    fields = spec.model_dump(mode="json", exclude_defaults=True)
    if list(fields) == ["name"]:
        return _flow(spec.name)
    pad = " " * indent
    return "".join(f"\n{pad}{key}: {_flow(value)}" for key, value in fields.items())


def _flow(value: Any) -> str:
    """One YAML value on one line (flow style), quoted where YAML needs it."""
    import yaml

    text = yaml.safe_dump({"v": value}, default_flow_style=True, width=10**6, sort_keys=False).strip()
    return text[len("{v: "):-1]


def _data_comment(data: dict) -> str:
    kind = data.get("type", "idx")
    return {"idx": "IDX images (Fashion-MNIST unless data_dir says otherwise)",
            "arrays": f"numpy arrays x_train, y_train, x_test, y_test, layout {data.get('layout')}",
            "csv": f"a CSV table, label column {data.get('label')!r}",
            "image_folder": "image folders, one per class, decoded once into a cache"}.get(kind, kind)


def pipeline_name(out: Path) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", out.stem) or "my_pipeline"


def write_pipeline(out: str | os.PathLike, teacher: str, student: str, data: str,
                   teacher_checkpoint: Optional[str] = None, force: bool = False):
    """Check the three specs, write the commented YAML to `out`, validate it. Returns
    (choices, validated config). Nothing is written when any check fails."""
    from edgekd.config import load_config
    from edgekd.data.cli_spec import parse_data_spec, preflight

    out = Path(out)
    if out.exists() and not force:
        raise ConfigError(f"{out} exists; pass --force to overwrite it or --out to write another file")
    teacher_spec = model_spec_from_cli(teacher, "teacher", teacher_checkpoint)
    student_spec = model_spec_from_cli(student, "student")
    if student_spec.source == "onnx":
        raise ConfigError(f"student {student_spec.name!r}: the student must be a PyTorch model to train; "
                          "onnx: works only for the teacher")
    data_mapping, data_config = parse_data_spec(data)
    choices = PipelineChoices(pipeline_name(out), teacher_spec, student_spec, data_mapping, preflight(data_config))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(pipeline_yaml(choices, str(out)))
    try:
        config = load_config(tmp)
    except ConfigError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(str(exc).replace(str(tmp), str(out))) from None
    os.replace(tmp, out)
    return choices, config
