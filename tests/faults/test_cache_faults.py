"""A damaged or stale teacher cache is detected and rebuilt, never used."""

import shutil

import pytest

from edgekd.models.checkpoints import load_model, save_weights
from edgekd.config import parse_config
from edgekd.errors import ArtifactError
from edgekd.kd.teacher_cache import open_cache
from edgekd.pipeline import run


def _config(tmp_path, checkpoint="models/fmnist_teacher.safetensors", shard_rows=16384):
    return parse_config({
        "name": "cache-faults", "artifacts_dir": str(tmp_path / "artifacts"),
        "data": {"train_subset": 1000, "test_subset": 100},
        "stages": [{"type": "teacher", "checkpoint": str(checkpoint)}, {"type": "cache", "shard_rows": shard_rows}],
    })


def _logits_file(result):
    return result.artifacts["cache"].path / "shard-00000.logits.npy"


@pytest.mark.parametrize("damage", ["flip_byte", "truncate"])
def test_damaged_cache_is_rebuilt(tmp_path, damage):
    first = run(_config(tmp_path))
    path = _logits_file(first)
    good = path.read_bytes()
    if damage == "flip_byte":
        path.write_bytes(good[:-7] + bytes([good[-7] ^ 0xFF]) + good[-6:])
    else:
        path.write_bytes(good[: len(good) // 2])
    second = run(_config(tmp_path))
    assert not second.outcomes[1].reused, "a damaged cache must not be reused"
    assert _logits_file(second).read_bytes() == good
    assert list((tmp_path / "artifacts").glob(".corrupt-cache-*"))  # kept aside for inspection


def test_changed_teacher_gets_a_new_cache(tmp_path):
    first = run(_config(tmp_path))
    teacher = load_model("fmnist_teacher", "models/fmnist_teacher.safetensors")
    teacher.features[0].weight.data[0, 0, 0, 0] += 1e-3  # one weight of one conv filter
    changed = tmp_path / "teacher2.safetensors"
    save_weights(teacher, changed)
    second = run(_config(tmp_path, changed))
    assert second.artifacts["cache"].id != first.artifacts["cache"].id
    assert not second.outcomes[1].reused
    # the old cache is still on disk, and refuses to serve the new teacher's key
    with pytest.raises(ArtifactError, match="stale key"):
        open_cache(first.artifacts["cache"].path, second.artifacts["cache"].metrics["key"], 1000)


def test_cache_with_wrong_row_count_is_refused(tmp_path):
    first = run(_config(tmp_path))
    folder = tmp_path / "copy"
    shutil.copytree(first.artifacts["cache"].path, folder)
    with pytest.raises(ArtifactError, match="expected 999 rows"):
        open_cache(folder, first.artifacts["cache"].metrics["key"], 999)


def test_killed_cache_build_resumes_from_its_last_complete_shard(tmp_path, monkeypatch):
    import edgekd.kd.teacher_cache as teacher_cache

    computed = []
    original = teacher_cache.rows_for

    def dies_on_third_shard(spec, teachers, inputs, start, stop, batch_size):
        computed.append(start)
        if start == 600 and computed.count(600) == 1:
            raise KeyboardInterrupt  # Ctrl-C while the third of four shards is being computed
        return original(spec, teachers, inputs, start, stop, batch_size)

    monkeypatch.setattr(teacher_cache, "rows_for", dies_on_third_shard)
    with pytest.raises(KeyboardInterrupt):
        run(_config(tmp_path, shard_rows=300))
    assert not list((tmp_path / "artifacts").glob("cache-*")), "no half-built cache is published"
    result = run(_config(tmp_path, shard_rows=300))
    assert computed == [0, 300, 600, 600, 900]
    assert result.artifacts["cache"].metrics["shards"] == 4
    monkeypatch.undo()
    reference = run(_config(tmp_path / "fresh", shard_rows=300))
    assert result.artifacts["cache"].manifest["files"] == reference.artifacts["cache"].manifest["files"]
