"""ONNX Runtime with an explicit execution provider. A missing EP is an error, never a CPU fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekd.errors import EdgeKDError
from edgekd.runtimes.base import check_input_shape

TARGET_NAMES = {"CPUExecutionProvider": "ort-cpu", "CUDAExecutionProvider": "ort-cuda"}


class ProviderUnavailable(EdgeKDError):
    """The requested execution provider is not in this onnxruntime build."""


class OrtRuntime:
    fixed_batch = None

    def __init__(self, path: str | Path, provider: str = "CPUExecutionProvider", threads: int | None = 1,
                 optimized_model_path: str | Path | None = None):
        import onnxruntime as ort

        available = ort.get_available_providers()
        if provider not in available:
            raise ProviderUnavailable(f"ONNX Runtime has no {provider}; this build offers {', '.join(available)}")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        if optimized_model_path:
            options.optimized_model_filepath = str(optimized_model_path)
        self.session = ort.InferenceSession(str(path), sess_options=options, providers=[provider])
        used = self.session.get_providers()[0]
        if used != provider:
            raise ProviderUnavailable(f"ONNX Runtime fell back to {used} instead of {provider}")
        self.provider, self.threads = provider, threads
        self.target = TARGET_NAMES.get(provider, provider)
        first = self.session.get_inputs()[0]
        self.input_name, self.input_shape = first.name, first.shape
        self.input_dtype = np.int64 if first.type == "tensor(int64)" else np.float32
        self.path = Path(path)
        names = [i.name for i in self.session.get_inputs()]
        # A text model (input_ids + attention_mask) is fed id rows; its pad id comes from the file's
        # input spec, or from `use_input_spec` while the spec is not attached yet.
        self.pad_id = _pad_id(self.session) if names == ["input_ids", "attention_mask"] else None

    def use_input_spec(self, spec) -> None:
        if self.pad_id is not None and "pad_id" in spec.extra:
            self.pad_id = int(spec.extra["pad_id"])

    def run(self, batch: np.ndarray) -> np.ndarray:
        check_input_shape(self.input_shape, batch.shape, f"ONNX model {self.path.name}")
        if self.pad_id is not None:
            from edgekd.export.token_inputs import feeds

            return self.session.run(None, feeds(batch, self.pad_id))[0]
        return self.session.run(None, {self.input_name: np.ascontiguousarray(batch, dtype=self.input_dtype)})[0]

    def run_inputs(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The first output for every input fed by name, as given: any count, dtype or layout."""
        return self.session.run(None, feeds)[0]

    def describe(self) -> dict:
        import onnxruntime as ort

        return {"engine": "onnxruntime", "version": ort.__version__, "provider": self.provider,
                "threads": self.threads}


def _pad_id(session) -> int:
    """The pad id a text model's input spec records (0, BERT's, when the file carries none)."""
    import json

    from edgekd.data.input_spec import METADATA_KEY

    found = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    return int(json.loads(found).get("extra", {}).get("pad_id", 0)) if found else 0
