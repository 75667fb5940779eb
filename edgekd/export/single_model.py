"""`edgekd export`: one model to ONNX / TFLite files, each checked for parity, without a pipeline.

The data decides the input shape, classes and normalisation: its test split is what every file is
run on and compared with PyTorch (the fp32 model, or for int8 the fake-quantised PT2E model), its
training split is what int8 is calibrated on. The conversions are the pipeline's own (the
`export_onnx` / `export_tflite` stages' converters), so a file made here is the file a pipeline
makes. A conversion that fails is a row with the converter's reason, never a crash.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional

from edgekd.errors import ConfigError
from edgekd.export.checked import export_and_check, failed_export_record
from edgekd.stages.export_common import FP32_REFERENCE, PTQ_REFERENCE

FORMATS = ("onnx_fp32", "onnx_int8", "tflite_fp32", "tflite_fp16", "tflite_int8")
DEFAULT_FORMATS = ("onnx_fp32", "onnx_int8", "tflite_fp32", "tflite_int8")
CALIBRATION_SAMPLES = 512  # as the ptq stage's default: enough for stable per-tensor ranges
SEED = 0  # calibration sample, and the weights of a model without a checkpoint
# Below these top-1 agreements a converted file is flagged: a float file should match its model on
# practically every sample (a miss means, e.g., a traced branch), int8 on nearly every one.
AGREEMENT_WARNING = {"fp32": 0.99, "fp16": 0.99, "int8": 0.95}
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")


def parse_formats(text: str) -> list[str]:
    """`onnx_fp32,tflite_int8` -> a list in the order given, duplicates dropped."""
    formats = list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ConfigError(f"--formats: unknown format {unknown[0]!r}; known: {', '.join(FORMATS)}" if unknown
                          else f"--formats: give at least one of {', '.join(FORMATS)}")
    return formats


def model_spec_for_export(text: str, checkpoint: Optional[str] = None):
    """The spec of the model to export, refusing the two things first-time users pass instead: a
    weights file (which holds no architecture) and an ONNX file (already exported)."""
    from edgekd.init_pipeline import model_spec_from_cli

    stripped = text.strip()
    if stripped.endswith(WEIGHT_SUFFIXES) and not stripped.startswith("{"):
        raise ConfigError(f"model {stripped!r} is a weights file, which holds no architecture: name the "
                          f"architecture as MODEL and pass the file as --checkpoint {stripped}")
    spec = model_spec_from_cli(stripped, "model", checkpoint)
    if spec.source == "onnx" or stripped.endswith(".onnx"):
        raise ConfigError(f"model {stripped!r} is already ONNX: export needs the PyTorch model it came from")
    return spec


def export_model(spec, data, formats: list[str], out: Path, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Export `spec` built for `data` (a `DataSource`) in each format into `out`; return the
    export.json content (also written there)."""
    import torch

    from edgekd.model_artifacts import accuracy, torch_logits
    from edgekd.models.build import build_model

    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)  # a model without a checkpoint gets the same random weights each time
    model, kwargs = build_model(spec, data.input_spec)
    model.eval()
    test = data.split("test")
    _check_output_width(model, test.inputs, data.num_classes, spec.label)
    fp32_logits = torch_logits(model, test.inputs)
    rows = []
    with tempfile.TemporaryDirectory(prefix="edgekd-export-") as scratch, _quiet_trace_refusals():
        int8 = _Int8Model(model, data, Path(scratch) / "calibration.safetensors")
        for fmt in formats:
            say(f"{fmt}: converting, then checking parity on the test split")
            rows.append(_export_format(fmt, model, int8, test, data.input_spec, fp32_logits, out, _file_stem(spec)))
    result = {"model": spec.label, "model_spec": spec.model_dump(mode="json"), "model_kwargs": kwargs,
              "data": data.config.model_dump(mode="json"), "input_spec": data.input_spec.to_dict(),
              "test_samples": int(len(test.labels)), "pytorch_accuracy": accuracy(fp32_logits, test.labels),
              "calibration_samples": int8.samples, "rows": rows}
    _write_json(out / "export.json", result)
    return result


def _export_format(fmt: str, model, int8: "_Int8Model", test, input_spec, fp32_logits, out: Path,
                   stem: str) -> dict[str, Any]:
    """One format's row: the file, its parity and accuracy, or why it could not be made."""
    from edgekd.model_artifacts import accuracy

    family, precision = fmt.split("_")
    quantised = precision == "int8"
    try:
        module = int8.fresh_module(test.inputs) if quantised else model
        record, exported = export_and_check(
            module, family, precision, CONVERTERS[family], out, f"{stem}_{precision}", test.inputs, input_spec,
            PTQ_REFERENCE if quantised else FP32_REFERENCE, fp32_logits if quantised else None)
    except ConfigError:
        raise
    except Exception as exc:  # a converter refusing a model is a row, not a crash
        return {"format": fmt, **failed_export_record(exc, family, out, f"{stem}_{precision}")}
    record.update(accuracy=accuracy(exported, test.labels), size_bytes=(out / record["file"]).stat().st_size)
    if record["top1_agreement"] < AGREEMENT_WARNING[precision]:
        record["warning"] = (f"the file's top-1 class differs from its PyTorch model's on "
                             f"{100 * (1 - record['top1_agreement']):.2f} % of test samples")
    return {"format": fmt, **record}


class _Int8Model:
    """The PT2E-quantised model: calibrated once, on a seeded sample of the training split (never
    test data), then rebuilt fresh for each int8 file, because the ONNX exporter folds the weights
    into the module in place while litert-torch needs them unfolded. A model PT2E cannot trace
    fails every int8 format with the same reason."""

    def __init__(self, model, data, path: Path):
        self.model, self.data, self.path = model, data, path
        self.samples: Optional[int] = None
        self.error: Optional[Exception] = None

    def fresh_module(self, sample):
        from edgekd.compress.quantization import calibrate, calibration_sample, load_calibrated, save_calibration

        if self.samples is None and self.error is None:
            try:
                calibration = calibration_sample(self.data.split("train").inputs, CALIBRATION_SAMPLES, SEED)
                save_calibration(calibrate(self.model, calibration), self.path)
                self.samples = int(len(calibration))
            except Exception as exc:
                self.error = exc
        if self.error is not None:
            raise self.error
        return load_calibrated(self.model, self.path, sample)


def _convert_onnx(module, precision, inputs, out, stem):
    from edgekd.stages.export_onnx import convert

    return convert(module, precision, inputs, out, stem)


def _convert_tflite(module, precision, inputs, out, stem):
    from edgekd.stages.export_tflite import convert

    return convert(module, precision, inputs, out, stem, threads=1)


CONVERTERS = {"onnx": _convert_onnx, "tflite": _convert_tflite}


@contextlib.contextmanager
def _quiet_trace_refusals():
    """When torch.export refuses a model (a data-dependent branch, say) it logs a warning and prints
    the whole partial graph to sys.stderr, before the exporter falls back or the row records the
    reason (the traceback goes to `<file>.error.txt`). Both are dropped here; all else passes through."""
    import sys

    logger = logging.getLogger("torch.fx.experimental.symbolic_shapes")  # torch sets its level itself
    level, stderr = logger.level, sys.stderr
    logger.setLevel(logging.ERROR)
    sys.stderr = _DropGraphDumps(stderr)
    try:
        yield
    finally:
        logger.setLevel(level)
        sys.stderr = stderr


class _DropGraphDumps:
    """A stderr wrapper that swallows printed FX graphs (`def forward(self, ...` blocks)."""

    def __init__(self, stream):
        self.stream = stream
        self.dropped = False  # `print` writes its end="\n" separately: drop that too

    def write(self, text: str) -> int:
        dropping = text.lstrip().startswith("def forward(self") or (self.dropped and text == "\n")
        self.dropped = dropping and text != "\n"
        return len(text) if dropping else self.stream.write(text)

    def __getattr__(self, name):
        return getattr(self.stream, name)


def _check_output_width(model, inputs, num_classes: int, label: str) -> None:
    """One forward pass: the model must take the data's samples and give one logit per class."""
    import torch

    from edgekd.errors import DataError

    try:
        with torch.no_grad():
            width = model(torch.from_numpy(inputs[:2])).shape[-1]
    except RuntimeError as exc:
        raise DataError(f"model {label} cannot take this data's samples of shape {list(inputs.shape[1:])}: "
                        f"{str(exc).strip().splitlines()[0]}") from None
    if num_classes and width != num_classes:
        raise DataError(f"model {label} gives {width} outputs but the data has {num_classes} classes")


def _file_stem(spec) -> str:
    """`fmnist_teacher`, `resnet18`, `student` (of file:models.py:student): a file-name-safe label."""
    import re

    name = spec.target.rpartition(":")[2] if spec.source in ("file", "module") else spec.target
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name.rsplit("/", 1)[-1]) or "model"


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
    os.replace(tmp, path)


def table_lines(result: dict[str, Any], width: int = 100) -> list[str]:
    """The rows as a plain fixed-width table (at most `width` columns), a failed row's reason under it."""
    header = f"{'format':<12}{'file':<30}{'size':>10}  {'max |Δ|':>8}  {'top-1 agree':>11}  {'acc %':>6}  status"
    lines = [header, "-" * len(header)]
    for row in result["rows"]:
        if row["status"] == "ok":
            cells = (f"{_size(row['size_bytes']):>10}  {row['parity_max_abs']:>8.1e}  "
                     f"{100 * row['top1_agreement']:>9.2f} %  {100 * row['accuracy']:>6.2f}")
        else:
            cells = f"{'—':>10}  {'—':>8}  {'—':>11}  {'—':>6}"
        lines.append(f"{row['format']:<12}{_fit(row.get('file', '—'), 29):<30}{cells}  {row['status']}")
        if row["status"] != "ok":
            lines.append(_fit(f"  reason: {row['reason']}", width))
        elif row.get("warning"):
            lines.append(_fit(f"  warning: {row['warning']}", width))
    return [line[:width] for line in lines]


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _size(size: int) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""
