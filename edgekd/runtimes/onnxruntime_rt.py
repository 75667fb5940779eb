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
        self.input_name = self.session.get_inputs()[0].name
        self.input_shape = self.session.get_inputs()[0].shape
        self.path = Path(path)

    def run(self, batch: np.ndarray) -> np.ndarray:
        check_input_shape(self.input_shape, batch.shape, f"ONNX model {self.path.name}")
        return self.session.run(None, {self.input_name: np.ascontiguousarray(batch, dtype=np.float32)})[0]

    def run_inputs(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The first output for every input fed by name, as given: any count, dtype or layout."""
        return self.session.run(None, feeds)[0]

    def describe(self) -> dict:
        import onnxruntime as ort

        return {"engine": "onnxruntime", "version": ort.__version__, "provider": self.provider,
                "threads": self.threads}
