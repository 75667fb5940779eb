"""`bench`: accuracy on the test set, batch latency and file size for every model in every format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PositiveFloat, PositiveInt

from edgekd.config import StageConfig
from edgekd.stages.base import Stage
from edgekd.stages.model_refs import ModelRole

EXPORT_STAGES = ("export_onnx", "export_tflite")
RESULTS_FILE = "bench.json"


class BenchConfig(StageConfig):
    type: Literal["bench"] = "bench"
    models: list[ModelRole] = ["teacher", "student"]
    threads: PositiveInt = 1
    batch_size: PositiveInt = 1
    warmup: int = Field(20, ge=0)
    min_runs: int = Field(200, ge=200)
    min_seconds: PositiveFloat = 1.0


class BenchStage(Stage):
    type = "bench"
    Config = BenchConfig

    def run(self, config: BenchConfig, ctx, out: Path) -> dict[str, Any]:
        from edgekd.bench.rows import bench_row
        from edgekd.progress import progress_bar

        candidates = _candidates(config, ctx)
        test = ctx.data.split("test")
        rows = []
        with progress_bar(ctx.console) as progress:
            task = progress.add_task("benchmark", total=len(candidates), status="")
            for candidate in candidates:
                progress.update(task, status=f"{candidate['model']} {candidate['format']}")
                rows.append(bench_row(candidate, test, config))
                progress.advance(task)
        (out / RESULTS_FILE).write_text(json.dumps({"rows": rows}, indent=2))
        failures = [f"{r['model']}/{r['format']}" for r in rows if r["status"] != "ok"]
        return {"rows": len(rows), "failures": failures}


def _candidates(config: BenchConfig, ctx) -> list[dict[str, Any]]:
    """PyTorch rows for each model, then every export recorded by the export stages."""
    from edgekd.stages.model_refs import model_artifact

    candidates = []
    for role in config.models:
        artifact = model_artifact(ctx, role)
        candidates.append({"model": role, "format": "pytorch", "runtime": "pytorch", "status": "ok",
                           "path": str(artifact.file("model.safetensors")), "artifact": str(artifact.path),
                           "parity_max_abs": 0.0, "top1_agreement": 1.0})
    for name, artifact in ctx.artifacts.items():
        if ctx.stage_types[name] not in EXPORT_STAGES:
            continue
        for record in artifact.metrics.get("exports", []):
            if record["model"] in config.models:
                path = str(artifact.path / record["file"]) if record.get("file") else None
                candidates.append({**record, "path": path, "artifact": str(artifact.path)})
    return candidates
