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
