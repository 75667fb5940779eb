"""kill -9 in the middle of a stage: the next run resumes and ends with identical artifacts.

A reduced pipeline (real Fashion-MNIST subset) runs once uninterrupted as the reference. Then, for
each stage under test, a fresh run in a subprocess is killed with SIGKILL while that stage is
working, and run again to the end: every artifact must have the same id and the same file digests
as the reference, and the training metrics must match.
"""

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from edgekd.config import parse_config
from edgekd.pipeline import run
from edgekd.stages.distill import run_label, run_tag

pytestmark = [pytest.mark.slow]

PIPELINE = {
    "name": "kill-test",
    "data": {"train_subset": 4000, "test_subset": 300},
    "stages": [
        {"type": "teacher", "checkpoint": "models/fmnist_teacher.safetensors"},
        {"type": "cache"},
        {"type": "distill", "train": {"epochs": 2}, "baseline_seeds": [0]},
        {"type": "ptq", "models": ["student"], "calibration_samples": 64},
        {"type": "export_tflite", "models": ["student"], "formats": ["fp32", "int8"]},
    ],
}


def _write_config(folder: Path) -> Path:
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump({**PIPELINE, "artifacts_dir": str(folder / "artifacts")}))
    return path


def _fingerprint(result) -> dict:
    return {o.name: (o.artifact.id, {k: v["sha256"] for k, v in o.artifact.manifest["files"].items()})
            for o in result.outcomes}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    config = parse_config(yaml.safe_load(_write_config(folder).read_text()))
    return run(config)


def _kill_when(folder: Path, condition, timeout: float = 240.0) -> None:
    """Start the pipeline in a subprocess and SIGKILL it as soon as `condition(artifacts)` holds."""
    config = _write_config(folder)
    process = subprocess.Popen([sys.executable, "-m", "edgekd.cli", "run", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    artifacts = folder / "artifacts"
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the run ended (exit {process.returncode}) before the kill point")
            if artifacts.is_dir() and condition(artifacts):
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                return
            time.sleep(0.02)
        pytest.fail("kill point not reached in time")
    finally:
        if process.poll() is None:
            process.kill()


def _in_stage(stage: str):
    return lambda artifacts: any(artifacts.glob(f".tmp-{stage}-*"))


def _mid_training(artifacts: Path) -> bool:
    """After the first epoch checkpoint of the second student: truly in the middle of distill."""
    return any(artifacts.glob(".resume/distill-*/ce-seed0.ckpt"))


def _mid_tflite_export(artifacts: Path) -> bool:
    return any(artifacts.glob(".tmp-export_tflite-*/*.tflite"))


@pytest.mark.parametrize("kill_point", [_in_stage("cache"), _mid_training, _mid_tflite_export],
                         ids=["cache", "distill", "export_tflite"])
def test_killed_run_resumes_to_identical_artifacts(reference, tmp_path, kill_point):
    _kill_when(tmp_path, kill_point)
    artifacts = tmp_path / "artifacts"
    left = _runs_left(artifacts)
    assert not any((artifacts / name / "manifest.json").exists() for name in os.listdir(artifacts)
                   if name.startswith(".tmp-")), "a temporary folder must never look finished"
    log = io.StringIO()
    config = parse_config(yaml.safe_load((tmp_path / "pipeline.yaml").read_text()))
    resumed = run(config, console=Console(file=log, width=200))
    assert _fingerprint(resumed) == _fingerprint(reference)
    assert resumed.artifacts["distill"].metrics == reference.artifacts["distill"].metrics
    assert not list(artifacts.glob(".tmp-*")) and not list((artifacts / ".resume").glob("*"))
    if kill_point is _mid_training:  # resumed mid-stage, not restarted
        assert left["resumed"], "the kill point is after an epoch checkpoint"
        # The students train one after another, or side by side in worker processes when the run
        # has a thread per student: either way each run the kill left is picked up where it stopped.
        for label in left["finished"]:
            assert f"{label}: finished in an earlier run" in log.getvalue()
        for label in left["resumed"]:
            assert f"{label}: resuming after epoch" in log.getvalue()


def _runs_left(artifacts: Path) -> dict[str, list[str]]:
    """The distill runs (KD and CE, seed 0) a killed run left: finished, or mid-training (a checkpoint)."""
    left = {"finished": [], "resumed": []}
    for folder in artifacts.glob(".resume/distill-*"):
        for kd in (True, False):
            tag, label = run_tag(0, kd), run_label(0, kd)
            if (folder / f"{tag}.json").is_file():
                left["finished"].append(label)
            elif (folder / f"{tag}.ckpt").is_file():
                left["resumed"].append(label)
    return left
