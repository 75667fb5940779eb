"""`edgekd bench FILE...`: benchmark model files directly, outside a pipeline, on the same inputs.

Each file becomes one candidate of the bench stage's own row code (.onnx in ONNX Runtime with the
named execution provider, .tflite in LiteRT, a safetensors checkpoint in PyTorch with its registered
architecture), optionally also under emulated aarch64 cores, then a report like the pipeline's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from edgekd.errors import ConfigError

FORMATS = {".onnx": ("onnx", "onnxruntime"), ".tflite": ("tflite", "litert"), ".safetensors": ("pytorch", "pytorch")}


def file_candidate(path: Path, architecture: str | None, provider: str) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"{path}: no such model file")
    if path.suffix not in FORMATS:
        raise ConfigError(f"{path}: unsupported model file; give .onnx, .tflite or .safetensors (with --arch)")
    fmt, runtime = FORMATS[path.suffix]
    if runtime == "pytorch" and not architecture:
        raise ConfigError(f"{path}: a checkpoint holds weights only; name its architecture with --arch")
    return {"model": path.stem, "format": fmt, "runtime": runtime, "status": "ok", "path": str(path),
            "provider": provider, "architecture": architecture}


def bench_files(paths: list[Path], config, data, architecture: str | None = None,
                provider: str = "CPUExecutionProvider") -> dict[str, Any]:
    """Benchmark rows and a report (schema of the pipeline's report.json) for the given files."""
    from edgekd.bench.emulated_rows import emulable, emulated_rows
    from edgekd.bench.rows import bench_row
    from edgekd.report.rows import SCHEMA_VERSION, report_rows
    from edgekd.stages.report import environment

    candidates = [file_candidate(Path(p), architecture, provider) for p in paths]
    test = data.split("test")
    rows = [bench_row(candidate, test, config, batch_size)
            for candidate in candidates for batch_size in config.batch_sizes]
    for candidate in candidates:
        if config.emulated_cpus and emulable(candidate):
            rows.extend(emulated_rows(candidate, test, config))
    return {"schema_version": SCHEMA_VERSION, "pipeline": "edgekd bench " + " ".join(Path(p).name for p in paths),
            "rows": report_rows(rows), "summary": {}, "environment": environment()}


def write_bench_report(report: dict[str, Any], out: Path) -> None:
    from edgekd.report.render import write_report

    out.mkdir(parents=True, exist_ok=True)
    write_report(report, out)
    (out / "bench.json").write_text(json.dumps({"rows": report["rows"]}, indent=2))
