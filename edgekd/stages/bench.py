"""`bench`: accuracy on the test set, batch latency and file size for every model in every format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, NonNegativeFloat, PositiveInt

from edgekd.config import StageConfig
from edgekd.stages.base import Stage
from edgekd.stages.model_refs import ModelRole

EXPORT_STAGES = ("export_onnx", "export_tflite")
RESULTS_FILE = "bench.json"


class BenchConfig(StageConfig):
    type: Literal["bench"] = "bench"
    models: list[ModelRole] = ["teacher", "student"]
    threads: PositiveInt = 1
    batch_sizes: list[PositiveInt] = Field(default=[1], min_length=1, description="a latency row per batch size")
    warmup: int = Field(20, ge=0)
    min_runs: int = Field(200, ge=200)
    min_seconds: NonNegativeFloat = 1.0
    extra_providers: list[str] = Field(
        default_factory=list, description="more ONNX Runtime EPs (e.g. CUDAExecutionProvider); a row each, "
        "skipped with the reason where this machine's onnxruntime lacks it")
    emulated_cpus: list[Literal["cortex-a53", "cortex-a76"]] = Field(
        default_factory=list, description="also count instructions per inference under QEMU aarch64")
    emulated_samples: PositiveInt = 32  # test images compared with x86 for parity
    emulated_runs: PositiveInt = 11  # measured inferences; the count is their median


class BenchStage(Stage):
    type = "bench"
    Config = BenchConfig

    def run(self, config: BenchConfig, ctx, out: Path) -> dict[str, Any]:
        from edgekd.bench.emulated_rows import emulable, emulated_rows_for_all
        from edgekd.bench.rows import bench_row, failed_rows
        from edgekd.progress import progress_bar

        from edgekd.stages.model_refs import role_split

        candidates = _with_extra_providers(_candidates(config, ctx), config.extra_providers)
        emulated = [c for c in candidates if config.emulated_cpus and emulable(c)]
        tests = {role: role_split(ctx, role, "test") for role in config.models}  # a cross-input student: its view
        rows = []
        with progress_bar(ctx.console) as progress:
            total = len(candidates) * len(config.batch_sizes) + len(emulated)
            task = progress.add_task("benchmark", total=total, status="")
            for candidate in candidates:
                for batch_size in config.batch_sizes:
                    progress.update(task, status=f"{candidate['model']} {candidate['format']} batch {batch_size}")
                    rows.append(bench_row(candidate, tests[candidate["model"]], config, batch_size))
                    progress.advance(task)
            if emulated:  # after every x86 row: emulation is slow and optional
                progress.update(task, status="emulated aarch64")
                rows.extend(emulated_rows_for_all(emulated, tests, config,
                                                  on_done=lambda _: progress.advance(task, 1 / len(config.emulated_cpus))))
        (out / RESULTS_FILE).write_text(json.dumps({"rows": rows}, indent=2))
        return {"rows": len(rows), "failures": failed_rows(rows)}


def _candidates(config: BenchConfig, ctx) -> list[dict[str, Any]]:
    """PyTorch rows for each model, then every export recorded by the export stages."""
    import torch

    from edgekd.bench.macs import forward_macs
    from edgekd.model_artifacts import load_model
    from edgekd.stages.model_refs import model_artifact, role_split

    candidates, macs = [], {}
    for role in config.models:
        artifact = model_artifact(ctx, role)
        example = torch.from_numpy(role_split(ctx, role, "test").inputs[:1])
        macs[role] = forward_macs(load_model(artifact), example)  # the same network in every format
        candidates.append({"model": role, "format": "pytorch", "runtime": "pytorch", "status": "ok",
                           "path": str(artifact.file("model.safetensors")), "artifact": str(artifact.path),
                           "parity_max_abs": 0.0, "top1_agreement": 1.0, "macs": macs[role]})
    for name, artifact in ctx.artifacts.items():
        if ctx.stage_types[name] not in EXPORT_STAGES:
            continue
        for record in artifact.metrics.get("exports", []):
            if record["model"] in config.models:
                path = str(artifact.path / record["file"]) if record.get("file") else None
                candidates.append({**record, "path": path, "artifact": str(artifact.path),
                                   "macs": macs[record["model"]]})
    return candidates


def _with_extra_providers(candidates: list[dict[str, Any]], providers: list[str]) -> list[dict[str, Any]]:
    """Each ONNX file again on every extra execution provider. One this onnxruntime build lacks is a
    skipped candidate that says so (bench_row turns it into a row, as it does a failed export); one it
    has but that fails gives a failed row (never a CPU fallback)."""
    if not providers:
        return candidates
    import onnxruntime as ort

    available = ort.get_available_providers()
    extra = []
    for candidate in candidates:
        if candidate["runtime"] != "onnxruntime" or candidate["status"] != "ok":
            continue
        for provider in providers:
            again = {**candidate, "provider": provider}
            if provider not in available:  # the CPU export's parity says nothing about this provider
                again.update(status="skipped", parity_max_abs=None, top1_agreement=None, fp32_parity_max_abs=None,
                             fp32_top1_agreement=None, reason=f"{provider} is not in this machine's onnxruntime "
                             f"({', '.join(available)}): no GPU build or no GPU")
            extra.append(again)
    return candidates + extra
