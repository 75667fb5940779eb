from edgekd.artifacts import ArtifactStore, artifact_id


def test_id_is_stable_and_sensitive_to_every_input():
    base = artifact_id("distill", {"epochs": 3}, "p1", "0.1", {"x": 1})
    assert base == artifact_id("distill", {"epochs": 3}, "p1", "0.1", {"x": 1})
    assert len({base,
                artifact_id("cache", {"epochs": 3}, "p1", "0.1", {"x": 1}),
                artifact_id("distill", {"epochs": 4}, "p1", "0.1", {"x": 1}),
                artifact_id("distill", {"epochs": 3}, "p2", "0.1", {"x": 1}),
                artifact_id("distill", {"epochs": 3}, "p1", "0.2", {"x": 1}),
                artifact_id("distill", {"epochs": 3}, "p1", "0.1", {"x": 2})}) == 6


def test_key_order_does_not_matter():
    assert artifact_id("s", {"a": 1, "b": 2}, None, "v", {}) == artifact_id("s", {"b": 2, "a": 1}, None, "v", {})


def _commit(store, aid="abc"):
    pending = store.begin("stage", aid)
    (pending.tmp_path / "weights.bin").write_bytes(b"12345")
    return store.commit(pending, {"metrics": {"accuracy": 0.9}})


def test_commit_then_find(tmp_path):
    store = ArtifactStore(tmp_path)
    made = _commit(store)
    found = store.find("stage", "abc")
    assert found.path == made.path and found.metrics == {"accuracy": 0.9}
    assert found.manifest["files"]["weights.bin"]["bytes"] == 5


def test_unfinished_artifact_is_invisible_and_cleaned(tmp_path):
    store = ArtifactStore(tmp_path)
    pending = store.begin("stage", "abc")
    (pending.tmp_path / "half").write_bytes(b"x")
    assert store.find("stage", "abc") is None
    assert store.clean_temporaries() == 1 and not pending.tmp_path.exists()


def test_corrupted_file_is_not_reused(tmp_path):
    store = ArtifactStore(tmp_path)
    made = _commit(store)
    (made.path / "weights.bin").write_bytes(b"12346")
    assert store.find("stage", "abc") is None
    assert not made.path.exists()  # moved aside so the stage runs again
    assert list(tmp_path.glob(".corrupt-stage-abc-*"))


def test_cleanup_spares_a_live_runs_temporaries(tmp_path):
    """Two pipelines sharing an artifacts folder: the one starting must not delete the other's work."""
    import subprocess
    import sys

    store = ArtifactStore(tmp_path)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live = tmp_path / f".tmp-distill-abc-1234.pid{other.pid}"
        live.mkdir()
        dead = tmp_path / ".tmp-distill-def-5678.pid999999999"
        dead.mkdir()
        legacy = tmp_path / ".tmp-cache-0123-89ab"  # named before pids were recorded
        legacy.mkdir()
        assert store.clean_temporaries() == 2
        assert live.is_dir() and not dead.exists() and not legacy.exists()
    finally:
        other.kill()
        other.wait()
    assert store.clean_temporaries() == 1 and not live.exists()
