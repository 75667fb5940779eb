"""Benchmark rows for the emulated aarch64 targets: instruction counts and parity with x86."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from edgekd.bench.rows import ROW_FIELDS, load_runtime


def emulable(candidate: dict[str, Any]) -> bool:
    """A model file the aarch64 userland can run: an export (its x86 reference runs on the CPU
    provider) or a PyTorch checkpoint (run by the guest's CPU-only torch)."""
    return (candidate["status"] == "ok" and candidate["runtime"] in ("onnxruntime", "litert", "pytorch")
            and candidate.get("provider", "CPUExecutionProvider") == "CPUExecutionProvider")


def _architecture(candidate: dict[str, Any]) -> dict[str, Any]:
    """What the guest needs to rebuild a PyTorch checkpoint (nothing for an exported file): the
    registry name and kwargs, named by a bare checkpoint's `--arch` or recorded in a pipeline
    model's artifact manifest."""
    if candidate["runtime"] != "pytorch":
        return {}
    from edgekd.runtimes.qemu_aarch64 import EmulatorUnavailable

    if candidate.get("architecture"):
        from edgekd.models.spec import parse_spec

        spec = parse_spec(candidate["architecture"], "--arch")
        if spec.source != "builtin":  # the guest has plain torch and the zoo only
            raise EmulatorUnavailable(f"the emulated PyTorch rows rebuild built-in models only, not {spec.name}")
        return _guest_architecture(spec.target, spec.kwargs)
    from edgekd.artifacts import Artifact

    metrics = Artifact.open(candidate["artifact"]).metrics
    source = (metrics.get("model_spec") or {}).get("name", metrics["model"])
    if ":" in source and not source.startswith("builtin:") or metrics.get("shape_changes"):
        # The guest's torch 2.9.1 has only plain torch.nn and the zoo: no timm, no user code, no pruning.
        raise EmulatorUnavailable(f"the emulated PyTorch rows rebuild unpruned built-in models only, not {source}"
                                  + (" (pruned)" if metrics.get("shape_changes") else ""))
    return _guest_architecture(metrics["model"], metrics.get("model_kwargs", {}))


def _guest_architecture(target: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """A built-in model as the guest rebuilds it, to load its weights: no init-only kwargs (the guest
    has no teacher folder to initialise from), refused if it needs a package the guest lacks."""
    from edgekd.models.builtin import needs, weights_kwargs
    from edgekd.runtimes.qemu_aarch64 import EmulatorUnavailable

    if needs(target):
        raise EmulatorUnavailable(f"the emulated PyTorch rows run plain torch only; {target} needs "
                                  f"{', '.join(needs(target))}")
    return {"arch": target, "arch_kwargs": weights_kwargs(target, kwargs)}


def _reference(candidate: dict[str, Any], samples: int) -> str:
    if candidate["runtime"] == "pytorch":
        import torch

        return f"x86 PyTorch {torch.__version__}, same weights, first {samples} test images"
    return f"x86 {candidate['runtime']}, same file, first {samples} test images"


def emulated_rows_for_all(candidates: list[dict[str, Any]], tests: dict[str, Any], config,
                          on_done=None) -> list[dict[str, Any]]:
    """Every candidate's emulated rows, candidate by candidate in the configured CPU order; `tests`
    holds the test split each model role reads.

    Instruction counts do not depend on how busy the host is, so the runs go in parallel, one per
    host core (each CPU model has its own view of the rootfs). `on_done(candidate)` is called as
    each candidate's run on one CPU finishes (progress)."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = [(index, cpu) for cpu in config.emulated_cpus for index in range(len(candidates))]
    found: dict[tuple[int, str], dict[str, Any]] = {}

    def one(job: tuple[int, str]) -> None:
        index, cpu = job
        found[job] = emulated_rows(candidates[index], tests[candidates[index]["model"]], config, cpus=[cpu])[0]
        if on_done is not None:
            on_done(candidates[index])

    with ThreadPoolExecutor(max_workers=max(1, min(os.cpu_count() or 1, len(jobs)))) as pool:
        list(pool.map(one, jobs))
    return [found[index, cpu] for index in range(len(candidates)) for cpu in config.emulated_cpus]


def emulated_rows(candidate: dict[str, Any], test, config, cpus: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per CPU (default: the configured ones) for a model file; skipped (with the reason) when
    the emulator is not set up, failed (with the reason) when the emulated run breaks."""
    cpus = list(cpus or config.emulated_cpus)
    from edgekd.parity import parity
    from edgekd.runtimes.base import predict
    from edgekd.runtimes.qemu_aarch64 import EmulatorUnavailable, check_available, run_emulated

    base = {key: candidate.get(key) for key in ROW_FIELDS}
    base.update(accuracy=None, macs=candidate.get("macs"),
                reference=_reference(candidate, config.emulated_samples),
                size_bytes=os.path.getsize(candidate["path"]), top1_agreement=None, parity_max_abs=None,
                fp32_parity_max_abs=None, fp32_top1_agreement=None)
    try:
        check_available()
    except EmulatorUnavailable as exc:
        return [{**base, "target": f"qemu-aarch64-{cpu}", "status": "skipped", "reason": str(exc)}
                for cpu in cpus]
    inputs = np.ascontiguousarray(test.inputs[:config.emulated_samples])
    try:
        reference = predict(load_runtime(candidate, threads=1), inputs, batch_size=1)
    except Exception as exc:  # e.g. a checkpoint that does not fit its --arch: rows that say so
        reason = f"x86 reference: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
        return [{**base, "target": f"qemu-aarch64-{cpu}", "status": "failed", "reason": reason}
                for cpu in cpus]
    rows = []
    for cpu in cpus:
        row = {**base, "target": f"qemu-aarch64-{cpu}"}
        try:
            run = run_emulated(Path(candidate["path"]), inputs, cpu, runs=config.emulated_runs,
                               **_architecture(candidate))
        except EmulatorUnavailable as exc:  # e.g. a set-up made before PyTorch was added to it
            rows.append({**row, "status": "skipped", "reason": str(exc)})
            continue
        except Exception as exc:  # an emulated run that breaks is a row with the reason
            rows.append({**row, "status": "failed", "reason": f"{type(exc).__name__}: {str(exc)[:300]}"})
            continue
        rows.append({**row, "status": "ok", "reason": None,
                     "instructions_per_inference": run.instructions_per_inference,
                     "instruction_spread": run.instruction_spread,
                     **parity(reference, run.outputs), "batch_size": 1, "runtime_info": {**run.guest, "threads": 1, "cpu": cpu}})
    return rows
