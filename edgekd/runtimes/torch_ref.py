"""PyTorch eager inference: the reference every export is compared against."""

from __future__ import annotations

import numpy as np


class TorchRuntime:
    target = "torch-cpu"
    fixed_batch = None

    def __init__(self, model, threads: int | None = None):
        import torch

        # Exported (PT2E) graph modules refuse .eval(); they were traced in eval mode already.
        self.model = model if isinstance(model, torch.fx.GraphModule) else model.eval()
        self.threads = threads
        if threads:
            torch.set_num_threads(threads)

    def run(self, batch: np.ndarray) -> np.ndarray:
        import torch

        from edgekd.errors import DataError

        try:
            with torch.inference_mode():
                return self.model(torch.from_numpy(np.ascontiguousarray(batch))).float().numpy()
        except RuntimeError as exc:
            if "shape" not in str(exc) and "size" not in str(exc) and "channels" not in str(exc):
                raise
            name = type(self.model).__name__
            raise DataError(f"PyTorch model {name} cannot take inputs of shape {['N', *batch.shape[1:]]}: "
                            f"{str(exc).strip().splitlines()[0]}") from exc

    def describe(self) -> dict:
        import torch

        return {"engine": "pytorch", "version": torch.__version__, "threads": torch.get_num_threads()}
