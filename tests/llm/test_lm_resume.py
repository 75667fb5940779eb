"""kill -9 in the middle of language-model distillation: the next run resumes from the last
checkpoint, inside an epoch, and ends with the same students as a run never interrupted."""

import hashlib
import io
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml
from rich.console import Console

from edgekd.config import parse_config
from edgekd.pipeline import run
from tests.llm.conftest import SMOLLM2

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def _pipeline(folder) -> dict:
    return {"name": "llm-kill", "artifacts_dir": str(folder / "artifacts"),
            "data": {"type": "tokens", "tokenizer": SMOLLM2, "length": 32, "train_subset": 32, "test_subset": 4},
            "stages": [{"type": "lm_teacher", "model": SMOLLM2},
                       {"type": "token_cache", "k": 4},
                       {"type": "lm_distill", "methods": ["ce", "kd_forward"],
                        # 16 steps an epoch, a checkpoint every 4: the kill lands inside the first epoch
                        "train": {"epochs": 2, "batch_size": 2, "lr": 3e-3, "checkpoint_steps": 4},
                        "student": {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                                    "num_attention_heads": 2, "num_key_value_heads": 1}}]}


def _outcome(result) -> tuple:
    metrics = result.artifacts["lm_distill"].metrics
    weights = result.artifacts["lm_distill"].path / metrics["student_folder"] / "model.safetensors"
    scores = {m: [(r["heldout_ppl"], r["top1_agreement"]) for r in v["per_seed"]] for m, v in metrics["methods"].items()}
    return scores, hashlib.sha256(weights.read_bytes()).hexdigest()


def test_killed_lm_distill_resumes_to_the_same_students(tmp_path):
    reference = run(parse_config(_pipeline(tmp_path / "reference")))
    folder = tmp_path / "killed"
    folder.mkdir()
    config = folder / "pipeline.yaml"
    config.write_text(yaml.safe_dump(_pipeline(folder)))
    process = subprocess.Popen([sys.executable, "-m", "edgekd.cli", "run", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    try:
        # After the KD student's first checkpoint: the CE student is done, the KD one a quarter in.
        while not list((folder / "artifacts").glob(".resume/lm_distill-*/kd_forward-seed0.ckpt")):
            assert process.poll() is None, f"the run ended (exit {process.returncode}) before the kill point"
            assert time.time() < deadline, "kill point not reached in time"
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
    checkpoint, = (folder / "artifacts").glob(".resume/lm_distill-*/kd_forward-seed0.ckpt")
    left = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert left["epoch"] == 0 and left["step"] in (4, 8, 12), "the kill is meant to land inside the first epoch"
    log = io.StringIO()
    resumed = run(parse_config(yaml.safe_load(config.read_text())), console=Console(file=log, width=200))
    assert _outcome(resumed) == _outcome(reference)
    assert f"kd_forward seed 0: resuming after epoch 0, step {left['step']} of 16" in log.getvalue()  # not restarted
