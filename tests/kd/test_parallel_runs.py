"""The KD-vs-CE runs train in spawned one-thread processes, one per core, with the accuracies and (to
float rounding) the weights a one-thread run in this process gives; a failing job names itself."""

import json
import sys

import pytest
import torch

from edgekd.config import parse_config
from edgekd.errors import ConfigError
from edgekd.kd.parallel_runs import ParallelRunError, run_in_processes
from edgekd.pipeline import run


def _config(tmp_path, name: str, threads: int):
    return parse_config({
        "name": "parallel", "artifacts_dir": str(tmp_path / name), "threads": threads,
        "data": {"train_subset": 2000, "test_subset": 300},
        "stages": [
            {"type": "teacher", "checkpoint": "models/fmnist_teacher.safetensors"},
            {"type": "cache"},
            {"type": "distill", "train": {"epochs": 1}, "baseline_seeds": [0, 1]},
        ],
    })


def test_parallel_runs_equal_one_thread_runs_in_process(tmp_path):
    parallel = run(_config(tmp_path, "two", threads=2)).artifacts["distill"]
    serial = run(_config(tmp_path, "one", threads=1)).artifacts["distill"]
    assert parallel.metrics["threads"] == serial.metrics["threads"] == 1
    assert parallel.metrics["kd_vs_ce"]["kd"]["accuracies"] == serial.metrics["kd_vs_ce"]["kd"]["accuracies"]
    assert parallel.metrics["kd_vs_ce"]["ce"]["accuracies"] == serial.metrics["kd_vs_ce"]["ce"]["accuracies"]
    # Bit-identical on the session-6 machine; on this one (AMX, avx512_bf16) a worker's weights are up
    # to 2.4e-7 from the in-process run's after an epoch, with identical accuracies. A fresh process
    # starting with one thread matches the in-process run, so the thread pool is not the cause; the
    # cause is not found yet.
    from safetensors.torch import load_file

    ours, theirs = (load_file(a.path / "model.safetensors") for a in (parallel, serial))
    assert ours.keys() == theirs.keys()
    assert all(torch.allclose(ours[k], theirs[k], rtol=0, atol=1e-5) for k in ours)


def _setup(state):
    pass


def _write_or_fail(job):
    path, fail = job
    if fail == "bug":
        raise ValueError(f"bad job {path.name}")
    if fail == "user":
        raise ConfigError(f"stages.distill: bad field for {path.name}")
    path.write_text(json.dumps({"done": True}))


def test_failed_job_is_named(tmp_path):
    jobs = [(tmp_path / "a.json", None), (tmp_path / "b.json", "bug"), (tmp_path / "c.json", None)]
    with pytest.raises(ParallelRunError, match="b.json.*ValueError: bad job b.json"):
        run_in_processes(jobs, _write_or_fail, _setup, None, workers=2)
    assert (tmp_path / "a.json").is_file()


def test_a_user_error_in_a_job_stays_one_line_of_its_own_type(tmp_path):
    with pytest.raises(ConfigError, match="bad field for x.json"):
        run_in_processes([(tmp_path / "x.json", "user")], _write_or_fail, _setup, None, workers=1)


def test_a_broken_pool_names_the_main_guard(monkeypatch):
    """Spawned workers import the script that started them: without a main guard it runs again."""
    import types
    from concurrent.futures.process import BrokenProcessPool

    from edgekd.kd.parallel_runs import _hint

    # Under pytest-xdist the worker's __main__ has no file; stand in for a user's script.
    script = types.ModuleType("__main__")
    script.__file__ = "/home/user/train.py"
    monkeypatch.setitem(sys.modules, "__main__", script)
    assert "train.py" in _hint(BrokenProcessPool("terminated abruptly"))
    assert '`if __name__ == "__main__":`' in _hint(BrokenProcessPool("terminated abruptly"))
    assert _hint(ValueError("a job's own error")) == ""
