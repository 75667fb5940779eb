"""One export, checked: convert, attach the input spec, run the file in its runtime and compare
with the PyTorch module it came from. A conversion that fails becomes a row with the reason (and the
traceback beside the files), never a crash. Used by the export stages and by `edgekd export`."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any, Callable


def export_and_check(module, family: str, precision: str, convert: Callable, out: Path, stem: str, inputs,
                     input_spec, reference_name: str, fp32_logits=None) -> tuple[dict[str, Any], Any]:
    """Convert `module` to one file, attach the input spec, run the file in its runtime on `inputs`
    and compare with `module` itself: (record, the file's logits). For a quantised module,
    `fp32_logits` (the float model's) add how far the file is from the fp32 model.

    `convert(module, precision, inputs, out, stem) -> (file name, extra fields, runtime)` is the
    export stages' converter.
    """
    from edgekd.model_artifacts import torch_logits
    from edgekd.parity import parity
    from edgekd.runtimes.base import predict

    filename, extra, runtime = convert(module, precision, inputs, out, stem)
    attach_input_spec(out / filename, family, input_spec)
    if hasattr(runtime, "use_input_spec"):  # opened before the spec was attached (a text model's pad id)
        runtime.use_input_spec(input_spec)
    reference = torch_logits(module, inputs)  # after conversion, as the pipeline does
    exported = predict(runtime, inputs)
    record = {**extra, "file": filename, "status": "ok", "reference": reference_name, **parity(reference, exported)}
    if fp32_logits is not None:
        fp32 = parity(fp32_logits, exported)
        record.update(fp32_parity_max_abs=fp32["parity_max_abs"], fp32_top1_agreement=fp32["top1_agreement"])
    return record, exported


def failed_export_record(exc: Exception, family: str, out: Path, stem: str) -> dict[str, Any]:
    """The row of a conversion that failed: the reason's first line, the traceback beside the files."""
    text = str(exc).strip()
    reason = f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
    (out / f"{stem}.error.txt").write_text(traceback.format_exc())
    return {"status": "failed", "reason": reason[:300], "runtime": family_runtime(family)}


def attach_input_spec(path: Path, family: str, spec) -> None:
    """The preprocessing travels with the file: ONNX metadata_props, or a JSON sidecar by a .tflite."""
    from edgekd.export.input_spec_files import write_onnx_input_spec, write_tflite_sidecar

    if family == "onnx":
        write_onnx_input_spec(path, spec)
    else:
        write_tflite_sidecar(path, spec)


def family_runtime(family: str) -> str:
    return {"onnx": "onnxruntime", "tflite": "litert"}[family]
