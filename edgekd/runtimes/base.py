"""The runtime interface and batched prediction over a whole dataset."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Runtime(Protocol):
    """A loaded model in one engine. `fixed_batch` is set when the model only takes that batch size."""

    target: str
    fixed_batch: int | None

    def run(self, batch: np.ndarray) -> np.ndarray: ...

    def describe(self) -> dict: ...


def check_input_shape(declared, given: tuple, what: str) -> None:
    """Refuse data whose per-sample shape differs from what the model declares (None/str = dynamic)."""
    from edgekd.errors import DataError

    declared = list(declared)[1:]
    sample = list(given)[1:]
    fixed = [int(d) if isinstance(d, (int, np.integer)) and d > 0 else None for d in declared]
    nhwc = fixed[-1:] + fixed[:-1] if len(fixed) == 3 else fixed  # TFLite from onnx2tf is NHWC
    if len(fixed) != len(sample) or not any(
        all(d is None or d == s for d, s in zip(layout, sample)) for layout in (fixed, nhwc)
    ):
        raise DataError(f"{what} expects inputs of shape {['N', *declared]}, the data has {['N', *sample]}")


def predict(runtime: Runtime, inputs: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Logits for every input, in batches the runtime accepts."""
    step = runtime.fixed_batch or batch_size
    outputs = [runtime.run(inputs[i:i + step]) for i in range(0, len(inputs), step)]
    return np.concatenate(outputs, axis=0)
