"""Shared fixtures: tiny IDX datasets written to disk, so tests never depend on the big files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest


def write_idx(path: Path, array: np.ndarray, magic: int, compress: bool = True) -> None:
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as handle:
            handle.write(payload)
    else:
        path.write_bytes(payload)


def make_idx_dataset(folder: Path, n_train: int = 64, n_test: int = 32, seed: int = 0) -> Path:
    """Fashion-MNIST-shaped IDX files with learnable structure: class k lights up row band k."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, count in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, size=count)
        images = rng.integers(0, 60, size=(count, 28, 28))
        for i, label in enumerate(labels):
            images[i, 2 * label + 4: 2 * label + 7, 4:24] = 230
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images, 2051)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, 2049)
    return folder


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    return make_idx_dataset(tmp_path / "fmnist")


def pytest_configure(config):
    """Under pytest-xdist each worker gets its share of the cores, as `edgekd run --nproc` does."""
    import os

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        os.environ.setdefault("EDGEKD_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the groups into node ids
def pytest_collection_modifyitems(config, items):
    """Under `--dist loadgroup`, a module whose tests share a module- or session-scoped fixture of its
    own (a reduced pipeline run, say) stays whole on one worker, so that fixture runs once. Every
    other test is scheduled on its own, so the long independent end-to-end tests of one module spread
    over the workers instead of queueing on one."""
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        if _shares_a_costly_fixture(item):
            item.add_marker(pytest.mark.xdist_group(module))


def _shares_a_costly_fixture(item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    for definitions in info.name2fixturedefs.values():
        for definition in definitions:
            if definition.scope in ("module", "session") and definition.baseid and \
                    item.nodeid.startswith(definition.baseid):
                return True
    return False
