import numpy as np
import pytest

from edgekd.errors import ArtifactError
from edgekd.kd.teacher_cache import LOGITS_FILE, open_cache, write_cache


def _write(folder, logits, key="k1"):
    batches = ((i, logits[i:i + 3]) for i in range(0, len(logits), 3))
    return write_cache(folder, batches, len(logits), logits.shape[1], "float16", key)


def test_round_trip_fp16(tmp_path):
    logits = np.random.default_rng(0).normal(size=(10, 5)).astype(np.float32)
    index = _write(tmp_path, logits)
    cached = open_cache(tmp_path, "k1", 10)
    assert cached.dtype == np.float16 and index["bytes_per_sample"] == 10
    np.testing.assert_allclose(cached, logits, atol=2e-3)


def test_stale_key_refused(tmp_path):
    _write(tmp_path, np.zeros((4, 3), np.float32))
    with pytest.raises(ArtifactError, match="stale"):
        open_cache(tmp_path, "other-key", 4)


def test_corrupt_bytes_detected(tmp_path):
    _write(tmp_path, np.ones((4, 3), np.float32))
    path = tmp_path / LOGITS_FILE
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ArtifactError, match="corrupt"):
        open_cache(tmp_path, "k1", 4)


def test_row_count_checked(tmp_path):
    _write(tmp_path, np.ones((4, 3), np.float32))
    with pytest.raises(ArtifactError, match="expected 5 rows"):
        open_cache(tmp_path, "k1", 5)


def test_topk_round_trip_and_size(tmp_path):
    from edgekd.kd.teacher_cache import TOPK_INDICES_FILE, TOPK_VALUES_FILE

    logits = np.random.default_rng(1).normal(size=(6, 1000)).astype(np.float32)
    batches = ((i, logits[i:i + 4]) for i in range(0, 6, 4))
    index = write_cache(tmp_path, batches, 6, 1000, "float16", "k", topk=10)
    assert index["bytes_per_sample"] == 40  # vs 4000 for fp32 full logits: 100x smaller
    targets = open_cache(tmp_path, "k", 6)
    top = np.argsort(-logits, axis=1)[:, :10]
    np.testing.assert_array_equal(targets.indices.numpy(), top)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(targets.log_probs.numpy(), np.take_along_axis(log_probs, top, 1), atol=1e-2)
    (tmp_path / TOPK_VALUES_FILE).write_bytes((tmp_path / TOPK_VALUES_FILE).read_bytes()[:-2] + b"xx")
    with pytest.raises(ArtifactError, match="corrupt"):
        open_cache(tmp_path, "k", 6)
    assert (tmp_path / TOPK_INDICES_FILE).is_file()
