"""TFLite models in Google's LiteRT interpreter (`ai-edge-litert`), with XNNPACK by default.

Full-integer models take and return int8 tensors: inputs are quantised with the tensor's own scale
and zero point (`q = round(x / s) + z`) and outputs dequantised (`x = (q - z) * s`), so callers always
exchange float32 with the same layout as the PyTorch model. NHWC models (from onnx2tf) are handled by
transposing NCHW inputs when the model's input shape asks for it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekd.runtimes.base import check_input_shape


XNNPACK_NOTICE = ("INFO: Created TensorFlow Lite XNNPACK delegate",)


class LiteRTRuntime:
    target = "litert"

    def __init__(self, path: str | Path, threads: int | None = 1):
        from ai_edge_litert.interpreter import Interpreter

        from edgekd.quiet import native_stderr_filtered

        self.interpreter = Interpreter(model_path=str(path), num_threads=threads or 1)
        with native_stderr_filtered(XNNPACK_NOTICE):  # printed once per interpreter, from C++
            self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.threads = threads or 1
        self.path = Path(path)
        self.fixed_batch = int(self.input["shape"][0])
        self.input_dtype = np.dtype(self.input["dtype"])
        details = self.interpreter.get_input_details()
        # A text model: two int32 inputs (ids, mask), in the argument order litert-torch names them.
        self.token_inputs = ([d["index"] for d in sorted(details, key=lambda d: d["name"])]
                             if len(details) == 2 and all(d["dtype"] == np.int32 for d in details) else None)
        self.pad_id = _pad_id(self.path) if self.token_inputs else None

    def use_input_spec(self, spec) -> None:
        if self.token_inputs and "pad_id" in spec.extra:
            self.pad_id = int(spec.extra["pad_id"])

    def run(self, batch: np.ndarray) -> np.ndarray:
        if self.token_inputs:
            return self._run_tokens(batch)
        batch = np.asarray(batch, dtype=np.float32)
        check_input_shape(self.input["shape"], batch.shape, f"TFLite model {self.path.name}")
        if len(batch) != self.fixed_batch:
            raise ValueError(f"this TFLite model takes batches of {self.fixed_batch}, got {len(batch)}")
        batch = self._layout(batch)
        if self.input_dtype != np.float32:
            scale, zero = self.input["quantization"]
            info = np.iinfo(self.input_dtype)
            batch = np.clip(np.round(batch / scale) + zero, info.min, info.max).astype(self.input_dtype)
        self.interpreter.set_tensor(self.input["index"], batch)
        self.interpreter.invoke()
        out = self.interpreter.get_tensor(self.output["index"])
        if out.dtype != np.float32:
            scale, zero = self.output["quantization"]
            out = (out.astype(np.float32) - zero) * scale
        return out.astype(np.float32, copy=False)

    def _run_tokens(self, batch: np.ndarray) -> np.ndarray:
        check_input_shape(self.input["shape"], batch.shape, f"TFLite model {self.path.name}")
        if len(batch) != self.fixed_batch:
            raise ValueError(f"this TFLite model takes batches of {self.fixed_batch}, got {len(batch)}")
        ids = np.ascontiguousarray(batch, dtype=np.int32)
        for index, value in zip(self.token_inputs, (ids, (ids != self.pad_id).astype(np.int32))):
            self.interpreter.set_tensor(index, value)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"]).astype(np.float32, copy=False)

    def run_inputs(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The first output (dequantised when quantised) for every input fed by name, as given:
        raw values in the file's own dtype and layout, no quantisation or transpose applied."""
        shapes = {name: array.shape for name, array in feeds.items()}
        if shapes != getattr(self, "_fed_shapes", None):  # looked up once, not inside the timed calls
            self._fit_inputs(shapes)
        for name, index in self._input_indices.items():
            self.interpreter.set_tensor(index, feeds[name])
        self.interpreter.invoke()
        out = self.interpreter.get_tensor(self.output["index"])
        scale, zero = self.output["quantization"]
        return (out.astype(np.float32) - zero) * scale if scale else out

    def _fit_inputs(self, shapes: dict[str, tuple]) -> None:
        """Resize the inputs the file leaves dynamic (-1) to the fed shapes."""
        details = self.interpreter.get_input_details()
        resize = [d for d in details if tuple(d["shape"]) != tuple(shapes[d["name"]])]
        for detail in resize:
            self.interpreter.resize_tensor_input(detail["index"], shapes[detail["name"]])
        if resize:
            self.interpreter.allocate_tensors()
        self._input_indices = {d["name"]: d["index"] for d in details}
        self._fed_shapes = shapes

    def _layout(self, batch: np.ndarray) -> np.ndarray:
        shape = tuple(self.input["shape"])
        if batch.ndim == 4 and shape != batch.shape and shape == tuple(batch.transpose(0, 2, 3, 1).shape):
            return np.ascontiguousarray(batch.transpose(0, 2, 3, 1))
        return batch

    def describe(self) -> dict:
        from importlib.metadata import version

        return {"engine": "litert", "version": version("ai-edge-litert"), "threads": self.threads,
                "delegate": "xnnpack (default CPU delegate)",
                "input_dtype": str(self.input_dtype)}


def _pad_id(path: Path) -> int:
    """The pad id in the file's `.tflite.json` input spec (0, BERT's, before it is written)."""
    from edgekd.export.input_spec_files import read_input_spec

    spec = read_input_spec(path)
    return int(spec.extra.get("pad_id", 0)) if spec is not None else 0
