"""Arrays a data source computes once (tokenised text), kept as one `.npz` in the data cache.

The file name carries the source's content key, so changed inputs make a new file and a stale one is
never read. It is written under a temporary name and renamed, so a killed run leaves no half file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np


def cached_arrays(cache_dir: Path | None, name: str, compute: Callable[[], dict[str, np.ndarray]]) -> dict:
    """The arrays stored as `<cache_dir>/<name>.npz`, or `compute()`'s, stored there for next time."""
    cached = Path(cache_dir) / f"{name}.npz" if cache_dir is not None else None
    if cached is not None and cached.is_file():
        with np.load(cached, allow_pickle=False) as stored:
            return {key: stored[key] for key in stored.files}
    arrays = compute()
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".partial.npz")
        np.savez(partial, **arrays)
        partial.replace(cached)
    return arrays
