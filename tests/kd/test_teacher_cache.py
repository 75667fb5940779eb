import numpy as np
import pytest
import torch
from torch import nn

from edgekd.errors import ArtifactError
from edgekd.kd.shard_store import INDEX_FILE
from edgekd.kd.teacher_cache import CacheSpec, Teacher, ViewPolicy, build_cache, open_cache
from edgekd.kd.teacher_targets import Selection
from edgekd.kd.views import apply_views, view_params


def _teacher(seed=0, classes=5):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, classes)).eval()


def _inputs(n=10, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 1, 8, 8)).astype(np.float32)


def _build(folder, spec=None, teachers=None, inputs=None, key="k1", shard_rows=4, **kwargs):
    spec = spec or CacheSpec(num_classes=5)
    teachers = teachers or [Teacher(_teacher())]
    inputs = _inputs() if inputs is None else inputs
    return build_cache(folder, spec, teachers, inputs, key, shard_rows, batch_size=3, **kwargs)


def _logits(targets):
    return targets._columns["logits"].column.load()


def test_round_trip_fp16_sharded(tmp_path):
    index = _build(tmp_path)
    assert len(index["shards"]) == 3 and index["bytes_per_sample"] == 10 and index["total_bytes"] == 100
    with torch.inference_mode():
        expected = _teacher()(torch.from_numpy(_inputs())).numpy()
    cached = _logits(open_cache(tmp_path, "k1", 10))
    assert cached.dtype == np.float16
    np.testing.assert_allclose(cached, expected, atol=2e-3)


def test_stale_key_refused(tmp_path):
    _build(tmp_path)
    with pytest.raises(ArtifactError, match="stale"):
        open_cache(tmp_path, "other-key", 10)


@pytest.mark.parametrize("damage", ["flip_byte", "truncate"])
def test_damaged_shard_detected(tmp_path, damage):
    _build(tmp_path)
    path = next(tmp_path.glob("shard-00001.logits.npy"))
    raw = path.read_bytes()
    path.write_bytes(raw[:-1] + bytes([raw[-1] ^ 0xFF]) if damage == "flip_byte" else raw[: len(raw) - 6])
    with pytest.raises(ArtifactError, match="corrupt or truncated"):
        open_cache(tmp_path, "k1", 10)


def test_truncated_shard_detected_even_without_checksums(tmp_path):
    _build(tmp_path)
    path = tmp_path / "shard-00002.logits.npy"
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(ArtifactError, match="unreadable|holds"):
        open_cache(tmp_path, "k1", 10, verify=False)


def test_row_count_checked(tmp_path):
    _build(tmp_path)
    with pytest.raises(ArtifactError, match="expected 11 rows"):
        open_cache(tmp_path, "k1", 11)


def test_missing_index_means_incomplete(tmp_path):
    _build(tmp_path)
    (tmp_path / INDEX_FILE).unlink()
    with pytest.raises(ArtifactError, match="incomplete"):
        open_cache(tmp_path, "k1", 10)


class _Interrupt(Exception):
    pass


def test_interrupted_build_resumes_from_last_complete_shard(tmp_path, monkeypatch):
    import edgekd.kd.teacher_cache as teacher_cache

    reference = tmp_path / "reference"
    reference.mkdir()
    _build(reference)
    calls = []
    original = teacher_cache.rows_for

    def flaky(spec, teachers, inputs, start, stop, batch_size):
        calls.append(start)
        if start == 8 and calls.count(8) == 1:
            raise _Interrupt  # the process dies while computing the last shard
        return original(spec, teachers, inputs, start, stop, batch_size)

    monkeypatch.setattr(teacher_cache, "rows_for", flaky)
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    out.mkdir()
    with pytest.raises(_Interrupt):
        _build(out, scratch=scratch)
    assert not (out / INDEX_FILE).exists()
    _build(out, scratch=scratch)
    assert calls == [0, 4, 8, 8], "the rebuild must redo only the unfinished shard"
    for path in sorted(reference.glob("shard-*.npy")):
        assert (out / path.name).read_bytes() == path.read_bytes()


def test_topk_layout_size_and_rest_mass(tmp_path):
    teacher = _teacher(classes=1000)
    index = _build(tmp_path, spec=CacheSpec(num_classes=1000, topk=10), teachers=[Teacher(teacher)])
    assert index["bytes_per_sample"] == 42  # vs 4,000 for fp32 full logits: 95x smaller
    targets = open_cache(tmp_path, "k1", 10)
    with torch.inference_mode():
        probs = torch.softmax(teacher(torch.from_numpy(_inputs())), 1).double().numpy()
    top = np.argsort(-probs, axis=1)[:, :10]
    np.testing.assert_array_equal(targets._columns["topk_indices"].column.load(), top)
    rest = 1 - np.take_along_axis(probs, top, 1).sum(1)
    np.testing.assert_allclose(targets._columns["topk_rest_mass"].column.load()[:, 0], rest, rtol=2e-3)


def test_multi_teacher_mean_of_probabilities(tmp_path):
    a, b = _teacher(0), _teacher(1)
    _build(tmp_path, spec=CacheSpec(num_classes=5, dtype="float32"), teachers=[Teacher(a, 1.0), Teacher(b, 3.0)])
    with torch.inference_mode():
        x = torch.from_numpy(_inputs())
        mixed = 0.25 * torch.softmax(a(x), 1) + 0.75 * torch.softmax(b(x), 1)
    cached = torch.from_numpy(_logits(open_cache(tmp_path, "k1", 10)))
    torch.testing.assert_close(torch.softmax(cached, 1), mixed, atol=1e-6, rtol=1e-5)


def test_features_are_cached_with_their_shape(tmp_path):
    teacher = _teacher()
    spec = CacheSpec(num_classes=5, features={"1": (4, 8, 8)})
    index = _build(tmp_path, spec=spec, teachers=[Teacher(teacher)])
    assert index["features"] == {"1": [4, 8, 8]} and index["bytes_per_sample"] == 10 + 4 * 64 * 2
    targets = open_cache(tmp_path, "k1", 10)
    with torch.inference_mode():
        expected = teacher[:2](torch.from_numpy(_inputs()))
    got = targets.features("1", Selection(torch.arange(10)))
    torch.testing.assert_close(got, expected, atol=2e-2, rtol=1e-2)


def test_augmentation_replay_gives_the_views_the_teacher_saw(tmp_path):
    teacher, inputs = _teacher(), _inputs()
    policy = ViewPolicy(views=3, pad=2, flip=True, seed=7, fill=-1.0)
    _build(tmp_path, spec=CacheSpec(num_classes=5, dtype="float32", views=policy), teachers=[Teacher(teacher)],
           inputs=inputs)
    targets = open_cache(tmp_path, "k1", 10)
    selection = targets.select(torch.tensor([9, 2, 5, 2]), np.random.default_rng(0))
    replayed = targets.inputs(torch.from_numpy(inputs), selection)
    params = view_params(7, np.array([9, 2, 5, 2]), 3, 2, True)[np.arange(4), selection.view.numpy()]
    direct = apply_views(torch.from_numpy(inputs[[9, 2, 5, 2]]), params, 2, -1.0)
    assert torch.equal(replayed, direct)
    with torch.inference_mode():
        torch.testing.assert_close(targets.rows("logits", selection), teacher(replayed), atol=1e-5, rtol=1e-5)
    # the views differ from the plain images (the cache is not secretly unaugmented)
    assert not torch.equal(replayed, torch.from_numpy(inputs[[9, 2, 5, 2]]))


def test_view_parameters_do_not_depend_on_batching():
    whole = view_params(3, np.arange(100), 4, 2, True)
    parts = np.concatenate([view_params(3, np.arange(s, s + 7), 4, 2, True)[: max(0, min(7, 100 - s))]
                            for s in range(0, 100, 7)])
    np.testing.assert_array_equal(whole, parts)
    assert whole[..., :2].min() == 0 and whole[..., :2].max() == 4 and set(np.unique(whole[..., 2])) == {0, 1}
