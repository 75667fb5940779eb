"""Content-addressed artifact store.

Every stage output lives in `<root>/<stage>-<id>/` next to a `manifest.json`. The id hashes what the
output depends on (stage type, its config, the parent artifact id, the package version and any input
fingerprint the stage declares, e.g. a checkpoint's digest), so the same inputs map to the same folder
and a re-run skips the stage, while any change upstream gives every later stage a new id.

A stage writes into a temporary folder that is renamed into place only after the manifest is written:
a killed run never leaves a folder that looks complete. On reuse the recorded file sizes and SHA-256
digests are checked, so a corrupted artifact is rebuilt instead of trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekd.errors import ArtifactError

MANIFEST = "manifest.json"
ID_LENGTH = 16


def artifact_id(stage_type: str, config: dict, parent_id: str | None, version: str, inputs: dict) -> str:
    """Hash of everything an artifact depends on; see the module docstring."""
    payload = {"stage": stage_type, "config": config, "parent": parent_id, "version": version,
               "inputs": inputs}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:ID_LENGTH]


def file_digest(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Artifact:
    """A finished stage output: its folder and what its manifest says."""

    path: Path
    manifest: dict[str, Any]

    @classmethod
    def open(cls, folder: str | Path) -> "Artifact":
        """An artifact folder known to be finished (its path came from a manifest)."""
        folder = Path(folder)
        return cls(path=folder, manifest=json.loads((folder / MANIFEST).read_text()))

    @property
    def id(self) -> str:
        return self.manifest["id"]

    @property
    def metrics(self) -> dict[str, Any]:
        return self.manifest.get("metrics", {})

    def file(self, name: str) -> Path:
        path = self.path / name
        if name not in self.manifest.get("files", {}):
            raise ArtifactError(f"artifact {self.path.name} has no file {name!r}")
        return path


@dataclass
class PendingArtifact:
    """An artifact being written: a temporary folder that becomes final in `ArtifactStore.commit`."""

    stage: str
    id: str
    tmp_path: Path
    record: dict[str, Any] = field(default_factory=dict)


class ArtifactStore:
    """Finds, creates and verifies artifacts under one root folder."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArtifactError(f"cannot create artifacts directory {self.root}: {exc.strerror}") from exc
        if not os.access(self.root, os.W_OK):
            raise ArtifactError(f"artifacts directory {self.root} is not writable")

    def folder(self, stage: str, aid: str) -> Path:
        return self.root / f"{stage}-{aid}"

    def find(self, stage: str, aid: str) -> Artifact | None:
        """The finished artifact with this id, or None when absent or failing verification."""
        path = self.folder(stage, aid)
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            return None
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, json.JSONDecodeError):
            self._quarantine(path, "unreadable manifest")
            return None
        problem = verify_files(path, manifest.get("files", {}))
        if problem or manifest.get("id") != aid:
            self._quarantine(path, problem or "id mismatch")
            return None
        return Artifact(path=path, manifest=manifest)

    def begin(self, stage: str, aid: str) -> PendingArtifact:
        # The owner's pid is in the name: a run cleaning up must not delete a live run's temporaries.
        tmp = self.root / f".tmp-{stage}-{aid}-{uuid.uuid4().hex[:8]}.pid{os.getpid()}"
        try:
            tmp.mkdir(parents=True)
        except OSError as exc:
            raise ArtifactError(f"cannot write in {self.root}: {exc.strerror}") from exc
        return PendingArtifact(stage=stage, id=aid, tmp_path=tmp)

    def commit(self, pending: PendingArtifact, manifest: dict[str, Any]) -> Artifact:
        """Record every file's digest, write the manifest, then rename the folder into place."""
        files = {
            str(p.relative_to(pending.tmp_path)): {"bytes": p.stat().st_size, "sha256": file_digest(p)}
            for p in sorted(pending.tmp_path.rglob("*")) if p.is_file()
        }
        manifest = {**manifest, "id": pending.id, "files": files, "created": time.time()}
        _write_json_durably(pending.tmp_path / MANIFEST, manifest)
        final = self.folder(pending.stage, pending.id)
        if final.exists():  # a stale or corrupt folder that find() refused; replace it
            shutil.rmtree(final)
        os.replace(pending.tmp_path, final)
        return Artifact(path=final, manifest=manifest)

    def abort(self, pending: PendingArtifact) -> None:
        shutil.rmtree(pending.tmp_path, ignore_errors=True)

    def clean_temporaries(self) -> int:
        """Remove temporary folders left by killed runs (not those of runs still going in this
        artifacts folder); returns how many were removed."""
        stale = [path for path in self.root.glob(".tmp-*") if not _owner_alive(path)]
        for path in stale:
            shutil.rmtree(path, ignore_errors=True)
        return len(stale)

    def _quarantine(self, path: Path, reason: str) -> None:
        target = self.root / f".corrupt-{path.name}-{uuid.uuid4().hex[:6]}"
        os.replace(path, target)
        (target / "REASON").write_text(reason + "\n")


def _owner_alive(tmp: Path) -> bool:
    """Whether the process that made this temporary folder (`...pid<N>`) is still running."""
    _, _, pid = tmp.name.rpartition(".pid")
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def verify_files(folder: Path, files: dict[str, dict]) -> str | None:
    """None when every recorded file is present with its size and digest, else what is wrong."""
    for name, record in files.items():
        path = folder / name
        if not path.is_file():
            return f"missing {name}"
        if path.stat().st_size != record["bytes"]:
            return f"{name} has {path.stat().st_size} bytes, manifest says {record['bytes']}"
        if file_digest(path) != record["sha256"]:
            return f"{name} checksum mismatch"
    return None


def _write_json_durably(path: Path, data: dict) -> None:
    with open(path, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True, default=str)
        handle.flush()
        os.fsync(handle.fileno())
