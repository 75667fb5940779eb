"""A full or read-only artifacts disk gives one clear error and corrupts nothing.

Uses real small tmpfs mounts (the test machine runs as root); skipped where mounting is not allowed.
"""

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgekd.artifacts import ArtifactStore
from edgekd.cli import main


@pytest.fixture
def mount(tmp_path):
    mounted = []

    def _mount(folder: Path, options: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                                capture_output=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
        mounted.append(folder)
        return folder

    yield _mount
    for folder in reversed(mounted):
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _pipeline(tmp_path: Path, artifacts: Path) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(f"""
name: disk
artifacts_dir: {artifacts}
data: {{train_subset: 1000, test_subset: 100}}
stages:
  - {{type: teacher, checkpoint: models/fmnist_teacher.safetensors}}
  - {{type: cache}}
  - {{type: ptq, models: [teacher], calibration_samples: 32}}
""")
    return path


def test_disk_full_mid_pipeline(tmp_path, mount):
    # 5 MB: the teacher (3.4 MB) and its logits fit, its quantised copy (3.5 MB) does not.
    artifacts = mount(tmp_path / "artifacts", "size=5m")
    result = CliRunner().invoke(main, ["run", str(_pipeline(tmp_path, artifacts))])
    assert result.exit_code == 2, result.output
    last_line = result.output.strip().splitlines()[-1]
    assert last_line.startswith("error: ptq: cannot write its artifact in") and "No space left" in last_line
    assert not list(artifacts.glob(".tmp-*")) and not list(artifacts.glob("ptq-*"))
    store = ArtifactStore(artifacts)  # what was finished before is intact and verifies
    for name in ("teacher", "cache"):
        folder = next(artifacts.glob(f"{name}-*"))
        assert store.find(name, folder.name.split("-", 1)[1]) is not None


def test_read_only_artifacts_dir(tmp_path, mount):
    artifacts = mount(tmp_path / "ro", "ro,size=1m")
    result = CliRunner().invoke(main, ["run", str(_pipeline(tmp_path, artifacts))])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: artifacts directory {artifacts} is not writable"
