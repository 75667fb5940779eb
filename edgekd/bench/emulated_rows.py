"""Benchmark rows for the emulated aarch64 targets: instruction counts and parity with x86."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from edgekd.bench.rows import ROW_FIELDS, load_runtime


def emulable(candidate: dict[str, Any]) -> bool:
    """An exported file the aarch64 userland can run (its x86 reference runs on the CPU provider)."""
    return (candidate["status"] == "ok" and candidate["runtime"] in ("onnxruntime", "litert")
            and candidate.get("provider", "CPUExecutionProvider") == "CPUExecutionProvider")


def emulated_rows(candidate: dict[str, Any], test, config) -> list[dict[str, Any]]:
    """One row per configured CPU for an exported file; skipped (with the reason) when the emulator
    is not set up, failed (with the reason) when the emulated run breaks."""
    from edgekd.parity import parity
    from edgekd.runtimes.base import predict
    from edgekd.runtimes.qemu_aarch64 import EmulatorUnavailable, check_available, run_emulated

    base = {key: candidate.get(key) for key in ROW_FIELDS}
    base.update(accuracy=None, macs=candidate.get("macs"),
                reference=f"x86 {candidate['runtime']}, same file, first {config.emulated_samples} test images",
                size_bytes=os.path.getsize(candidate["path"]), top1_agreement=None, parity_max_abs=None,
                fp32_parity_max_abs=None, fp32_top1_agreement=None)
    try:
        check_available()
    except EmulatorUnavailable as exc:
        return [{**base, "target": f"qemu-aarch64-{cpu}", "status": "skipped", "reason": str(exc)}
                for cpu in config.emulated_cpus]
    inputs = np.ascontiguousarray(test.inputs[:config.emulated_samples])
    reference = predict(load_runtime(candidate, threads=1), inputs, batch_size=1)
    rows = []
    for cpu in config.emulated_cpus:
        row = {**base, "target": f"qemu-aarch64-{cpu}"}
        try:
            run = run_emulated(Path(candidate["path"]), inputs, cpu, runs=config.emulated_runs)
        except Exception as exc:  # an emulated run that breaks is a row with the reason
            rows.append({**row, "status": "failed", "reason": f"{type(exc).__name__}: {str(exc)[:300]}"})
            continue
        rows.append({**row, "status": "ok", "reason": None,
                     "instructions_per_inference": run.instructions_per_inference,
                     "instruction_spread": run.instruction_spread,
                     **parity(reference, run.outputs), "batch_size": 1, "runtime_info": {**run.guest, "threads": 1, "cpu": cpu}})
    return rows
