"""The input spec travels with each exported file, so an app (or `edgekd bench`) can feed it alone.

- ONNX: the spec's JSON in the model's `metadata_props` under `METADATA_KEY` (ONNX's own place for
  key/value strings; ORT exposes it as `get_modelmeta().custom_metadata_map`).
- TFLite: a `<file>.tflite.json` sidecar. The flatbuffer has a metadata table too, but writing it
  means rebuilding the flatbuffer; a sidecar is plain JSON any app can read. Besides the spec it
  records what the file itself takes (layout, dtype, quantisation), which can differ from the spec:
  an int8 file wants `round(x / scale + zero_point)`, an onnx2tf file wants NHWC.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from edgekd.data.input_spec import METADATA_KEY, InputSpec
from edgekd.errors import ArtifactError

# The channels-last form of each layout an InputSpec can declare (what onnx2tf files take).
CHANNELS_LAST = {"NCHW": "NHWC", "NCL": "NLC", "NC": "NC"}


def sidecar_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".json")


def write_onnx_input_spec(path: str | os.PathLike, spec: InputSpec) -> None:
    """Store the spec in the ONNX file's metadata_props (replacing an earlier one), in place."""
    import onnx

    path = Path(path)
    # load_external_data=False: a self-contained file is unaffected, and a file with external data
    # keeps its relative references instead of being inlined into one (possibly >2 GB) protobuf.
    model = onnx.load(str(path), load_external_data=False)
    kept = [prop for prop in model.metadata_props if prop.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    model.metadata_props.add(key=METADATA_KEY, value=spec.to_json())
    tmp = path.with_name(path.name + ".tmp")
    onnx.save(model, str(tmp))
    os.replace(tmp, path)  # a kill mid-write must not leave a truncated export behind


def write_tflite_sidecar(path: str | os.PathLike, spec: InputSpec) -> Path:
    """Write `<file>.tflite.json`: the spec plus how the file's first input must be fed."""
    path = Path(path)
    facts = tflite_input_facts(path, spec)
    out = sidecar_path(path)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps({METADATA_KEY: spec.to_dict(), **facts}, indent=2, sort_keys=True))
    os.replace(tmp, out)
    return out


def tflite_input_facts(path: Path, spec: InputSpec) -> dict[str, Any]:
    """Layout, dtype and quantisation of the file's first input, read from the LiteRT interpreter."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    detail = Interpreter(model_path=str(path)).get_input_details()[0]
    scale, zero_point = detail["quantization"]
    return {
        "input_layout_in_file": _layout_in_file(path, spec, detail["shape"]),
        "input_dtype_in_file": np.dtype(detail["dtype"]).name,
        # scale 0 is how TFLite says "not quantised" (e.g. a float input, or raw uint8 pixels)
        "quantization": {"scale": float(scale), "zero_point": int(zero_point)} if scale else None,
    }


def _layout_in_file(path: Path, spec: InputSpec, file_shape) -> str:
    sample = tuple(int(d) for d in file_shape[1:])  # the batch dim is not part of the spec
    if sample == tuple(spec.shape):
        return spec.layout
    channels_last = tuple(spec.shape[1:]) + tuple(spec.shape[:1])
    if len(spec.shape) > 1 and sample == channels_last:
        return CHANNELS_LAST.get(spec.layout, spec.layout)
    raise ArtifactError(f"{path.name}: its input takes samples of shape {list(sample)}, which is neither the "
                        f"input spec's {list(spec.shape)} ({spec.layout}) nor its channels-last form")


def read_input_spec(path: str | os.PathLike) -> InputSpec | None:
    """The spec an exported .onnx or .tflite carries, or None when it carries none."""
    path = Path(path)
    if path.suffix == ".onnx":
        import onnx

        model = onnx.load(str(path), load_external_data=False)
        value = next((prop.value for prop in model.metadata_props if prop.key == METADATA_KEY), None)
        return None if value is None else _parse(json.loads(value), path)
    if path.suffix == ".tflite":
        sidecar = sidecar_path(path)
        if not sidecar.is_file():
            return None
        try:
            data = json.loads(sidecar.read_text())
        except ValueError as exc:
            raise ArtifactError(f"{sidecar}: not JSON ({exc})") from None
        return _parse(data.get(METADATA_KEY), sidecar) if isinstance(data, dict) else _parse(None, sidecar)
    return None


def _parse(data: Any, where: Path) -> InputSpec:
    try:
        return InputSpec.from_dict(data)
    except (TypeError, KeyError, ValueError) as exc:
        raise ArtifactError(f"{where}: the `{METADATA_KEY}` entry is not an input spec ({exc!r})") from None
