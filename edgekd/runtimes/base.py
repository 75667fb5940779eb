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


def predict(runtime: Runtime, inputs: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Logits for every input, in batches the runtime accepts."""
    step = runtime.fixed_batch or batch_size
    outputs = [runtime.run(inputs[i:i + step]) for i in range(0, len(inputs), step)]
    return np.concatenate(outputs, axis=0)
