"""Random inputs from a model file's own signature, for timing files no test data fits.

The values only have to be valid for the input's type: latency does not depend on them, and files
that share a signature get the same arrays, so their outputs can still be compared with each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekd.errors import ConfigError

TOKEN_ID_LIMIT = 100  # integer inputs are ids in [0, 100): valid for any embedding table, mask or index


@dataclass(frozen=True)
class InputSignature:
    """One declared input. `shape` has None where the file leaves a dim dynamic (`dim_names` names it);
    `quantization` is TFLite's (scale, zero point) for an integer input that stands for real values."""

    name: str
    shape: tuple[int | None, ...]
    dtype: np.dtype
    dim_names: tuple[str | None, ...]
    quantization: tuple[float, int] | None = None


def file_inputs(path: Path) -> list[InputSignature]:
    """The inputs an .onnx or .tflite file declares, in the file's order, layout and dtypes."""
    if path.suffix == ".onnx":
        return _onnx_inputs(path)
    if path.suffix == ".tflite":
        return _tflite_inputs(path)
    raise ValueError(f"{path.name}: no signature reader for {path.suffix} files")


def _onnx_inputs(path: Path) -> list[InputSignature]:
    import onnx
    from onnx.helper import tensor_dtype_to_np_dtype

    graph = onnx.load(str(path), load_external_data=False).graph
    weights = {init.name for init in graph.initializer}  # old exporters list weights as inputs too
    inputs = []
    for value in graph.input:
        if value.name in weights:
            continue
        dims = value.type.tensor_type.shape.dim
        inputs.append(InputSignature(
            value.name, tuple(d.dim_value if d.dim_value > 0 else None for d in dims),
            np.dtype(tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type)),
            tuple(d.dim_param or None for d in dims)))
    return inputs


def _tflite_inputs(path: Path) -> list[InputSignature]:
    from ai_edge_litert.interpreter import Interpreter

    inputs = []
    for detail in Interpreter(model_path=str(path)).get_input_details():
        # `shape` shows 1 where `shape_signature` has -1 (dynamic)
        declared = detail.get("shape_signature", detail["shape"])
        scale, zero_point = detail["quantization"]  # scale 0: not quantised
        inputs.append(InputSignature(detail["name"], tuple(int(d) if d > 0 else None for d in declared),
                                     np.dtype(detail["dtype"]), (None,) * len(declared),
                                     (float(scale), int(zero_point)) if scale else None))
    return inputs


def parse_shape_options(values: tuple[str, ...] | list[str]) -> dict[str, tuple[int, ...]]:
    """`NAME=1x3x224x224` options as {name: dims}. The name may hold ':' (TFLite names do)."""
    shapes = {}
    for value in values:
        name, sep, dims = value.rpartition("=")
        try:
            parsed = tuple(int(d) for d in dims.lower().split("x"))
        except ValueError:
            parsed = ()
        if not sep or not name or not parsed or min(parsed) < 1:
            raise ConfigError(f"--shape {value!r}: write NAME=DIMS with positive dims, e.g. input_ids=1x128")
        shapes[name] = parsed
    return shapes


def check_shape_names(shapes: dict[str, tuple[int, ...]], signatures: dict[Path, list[InputSignature]]) -> None:
    names = {sig.name for inputs in signatures.values() for sig in inputs}
    for name in shapes:
        if name not in names:
            raise ConfigError(f"--shape names input {name!r}, which none of the files has "
                              f"(their inputs: {', '.join(sorted(names)) or 'none'})")


def resolve_shapes(path: Path, inputs: list[InputSignature], shapes: dict[str, tuple[int, ...]],
                   batch_size: int) -> dict[str, tuple[int, ...]]:
    """Concrete shapes: a dynamic first (batch) dim takes `batch_size`, other dynamic dims `--shape`.
    Every input still missing a size is named in one error, with the `--shape` options to add."""
    resolved, missing = {}, []
    for sig in inputs:
        given = shapes.get(sig.name)
        if given is not None and len(given) != len(sig.shape):
            raise ConfigError(f"{path.name}: input {sig.name!r} has {len(sig.shape)} dims, --shape gives {len(given)}")
        dims = []
        for axis, declared in enumerate(sig.shape):
            if declared is not None:
                # a static batch dim that differs from the bench batch is a skipped row, not an error
                if given is not None and axis > 0 and given[axis] != declared:
                    raise ConfigError(f"{path.name}: input {sig.name!r} dim {axis} is fixed at {declared} in "
                                      f"the file, --shape gives {given[axis]}")
                dims.append(declared)
            elif axis == 0:
                dims.append(batch_size)
            elif given is not None:
                dims.append(given[axis])
            else:
                dims.append(None)
        if None in dims:
            missing.append(sig)
        resolved[sig.name] = tuple(dims)
    if missing:
        what = ", ".join(f"{sig.name!r} dims {[a for a, d in enumerate(resolved[sig.name]) if d is None]}"
                         for sig in missing)
        fixes = " ".join(f"--shape {sig.name}={_suggestion(sig, batch_size)}" for sig in missing)
        raise ConfigError(f"{path.name}: dynamic input dims with no size ({what}); give them with {fixes}")
    return resolved


def _suggestion(sig: InputSignature, batch_size: int) -> str:
    dims = [str(batch_size) if axis == 0 and d is None else str(d) if d is not None
            else f"<{sig.dim_names[axis] or 'size'}>" for axis, d in enumerate(sig.shape)]
    return "x".join(dims)


def declared_batch(inputs: list[InputSignature]) -> int | None:
    """The static batch size of the file (its first input's first dim), or None when dynamic."""
    return inputs[0].shape[0] if inputs and inputs[0].shape else None


def dtype_family(dtype: np.dtype) -> str:
    """Inputs whose random values are interchangeable: TFLite stores ONNX's int64 token ids as int32."""
    if dtype.kind == "f":
        return "float"
    if dtype.kind in "iu" and dtype.itemsize >= 4:
        return "ids"
    return dtype.name  # uint8, int8, int16, bool: their own value ranges


def channels_first(shape: tuple[int, ...]) -> tuple[int, ...]:
    """NCHW form of a 4-D shape that looks NHWC (last dim a few channels, dim 1 not), else the shape."""
    if len(shape) == 4 and shape[3] <= 4 < shape[1]:
        return (shape[0], shape[3], shape[1], shape[2])
    return shape


def signature_key(inputs: list[InputSignature], shapes: dict[str, tuple[int, ...]]) -> tuple:
    """Equal for files that can take the same inputs: same count and, in order, the same
    channels-first shapes and dtype families (names differ between exporters, so they don't count)."""
    return tuple((channels_first(shapes[sig.name]), dtype_family(sig.dtype)) for sig in inputs)


def random_canonical(key: tuple, batches: int, seed: int = 0) -> list[np.ndarray]:
    """For each input of a signature key, `batches` batches of random values, stacked on dim 0."""
    rng = np.random.default_rng(seed)
    arrays = []
    for shape, family in key:
        shape = (shape[0] * batches, *shape[1:]) if shape else shape
        if family == "float":
            arrays.append(rng.standard_normal(shape, dtype=np.float32))
        elif family == "ids":
            arrays.append(rng.integers(0, TOKEN_ID_LIMIT, shape, dtype=np.int64))
        elif family == "bool":
            arrays.append(rng.integers(0, 2, shape).astype(bool))
        elif np.dtype(family).kind in "iu":  # uint8/int8/int16: the whole range (raw pixels, quantised values)
            info = np.iinfo(np.dtype(family))
            arrays.append(rng.integers(info.min, info.max, shape, endpoint=True, dtype=np.dtype(family)))
        else:
            raise ValueError(f"no random inputs for {family} tensors")
    return arrays


def file_feeds(inputs: list[InputSignature], shapes: dict[str, tuple[int, ...]], canonical: list[np.ndarray],
               index: int) -> dict[str, np.ndarray]:
    """Batch `index` of the shared arrays in this file's names, layout and dtypes."""
    feeds = {}
    for sig, array in zip(inputs, canonical):
        step = shapes[sig.name][0] if array.ndim else 0
        part = array[index * step:(index + 1) * step] if array.ndim else array
        if part.shape[1:] != shapes[sig.name][1:]:  # the file is channels-last
            part = part.transpose(0, 2, 3, 1)
        feeds[sig.name] = np.ascontiguousarray(part, dtype=sig.dtype)
    return feeds


def describe(inputs: list[InputSignature], shapes: dict[str, tuple[int, ...]]) -> str:
    return ", ".join(f"{sig.name} {sig.dtype.name}[{'x'.join(map(str, shapes[sig.name]))}]" for sig in inputs)


def batches_for(samples: int, batch_size: int) -> int:
    return max(1, math.ceil(samples / batch_size))
