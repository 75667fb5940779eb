"""Emulated Arm rows for language models: instructions per generated token of each KV-cache export.

Every exported file greedy-decodes the benchmark prompt under QEMU (`edgekd.runtimes.qemu_aarch64`)
with the same decoding code as x86, one instruction-count window per step, and its greedy tokens
are compared with the same file's on x86. PyTorch models get a skipped row that says why: the
aarch64 guest has plain torch, not transformers.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

RUNTIMES = ("onnxruntime", "litert")
ROW_KEYS = ("model", "format", "runtime", "size_bytes")


def emulated_decode_rows(models: list[dict[str, Any]], prompt, new_tokens: int, cpus: list[str]) -> list[dict[str, Any]]:
    """One row per model and CPU, in that order: `ok` with the counts, `skipped` (no emulator, or a
    PyTorch model) or `failed`, each with its reason. Instruction counts do not depend on how busy
    the host is, so the runs go in parallel, one per host core."""
    from edgekd.runtimes.qemu_aarch64 import EmulatorUnavailable, check_available

    try:
        check_available()
        unavailable = None
    except EmulatorUnavailable as exc:
        unavailable = str(exc)
    jobs = [(model, cpu) for model in models for cpu in cpus]

    def one(job: tuple[dict[str, Any], str]) -> dict[str, Any]:
        model, cpu = job
        row = {key: model[key] for key in ROW_KEYS} | {"target": f"qemu-aarch64-{cpu}", "prompt_tokens": len(prompt),
                                                       "new_tokens": new_tokens}
        if model["runtime"] not in RUNTIMES:
            return row | {"status": "skipped", "reason": "the aarch64 guest runs PyTorch without transformers, "
                                                         "so it emulates the exported files only"}
        if unavailable:
            return row | {"status": "skipped", "reason": unavailable}
        try:
            return row | _measure(Path(model["target"]), prompt, new_tokens, cpu)
        except EmulatorUnavailable as exc:
            return row | {"status": "skipped", "reason": str(exc)}
        except Exception as exc:  # an emulated run that breaks is a row with the reason
            return row | {"status": "failed", "reason": f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"}

    with ThreadPoolExecutor(max_workers=max(1, min(os.cpu_count() or 1, len(jobs)))) as pool:
        return list(pool.map(one, jobs))


def _measure(path: Path, prompt, new_tokens: int, cpu: str) -> dict[str, Any]:
    from edgekd.export.causal_lm_decode import greedy_decoder
    from edgekd.runtimes.qemu_aarch64 import run_emulated_decode

    reference = greedy_decoder(path)(path, prompt, new_tokens, 1)[0]
    run = run_emulated_decode(path, prompt, new_tokens, cpu)
    agree = next((step for step, (a, b) in enumerate(zip(run.tokens, reference)) if a != b), len(reference))
    return {"status": "ok", "reason": None, "instructions_per_token": run.instructions_per_token,
            "instruction_spread": run.instruction_spread, "prefill_instructions": run.prefill_instructions,
            "tokens_agree_with_x86": agree, "runtime_info": {**run.guest, "threads": 1, "cpu": cpu}}
