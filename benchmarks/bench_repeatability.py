"""Does the latency harness give the same answer twice? The same model, benchmarked twice in one run.

    .venv/bin/python benchmarks/bench_repeatability.py

The shipped teacher and the quickstart student architecture are exported to fp32 ONNX and TFLite
with the library's own exporters. Each file is benchmarked twice by the bench stage's own row code
(fresh session each time, batch 1, one thread, ≥ 200 runs and ≥ 1 s), and the two medians are
compared: spread = |p50_a − p50_b| / min(p50_a, p50_b). Writes benchmarks/results/bench_repeatability.json.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe_machine  # noqa: E402
from edgekd.bench.rows import bench_row  # noqa: E402
from edgekd.models.checkpoints import load_model  # noqa: E402
from edgekd.data.fashion_mnist import load_split, normalize  # noqa: E402
from edgekd.export.onnx_export import export_onnx  # noqa: E402
from edgekd.export.tflite_export import export_tflite_fp32  # noqa: E402
from edgekd.quiet import quiet_third_party  # noqa: E402
from edgekd.zoo import build_model  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "bench_repeatability.json"


def main() -> None:
    quiet_third_party()
    split = load_split("test")
    test = SimpleNamespace(inputs=normalize(split.images[:1000]), labels=split.labels[:1000])
    config = SimpleNamespace(threads=1, warmup=20, min_runs=200, min_seconds=1.0)
    torch.manual_seed(0)
    models = {"teacher": load_model("fmnist_teacher", ROOT / "models" / "fmnist_teacher.safetensors").eval(),
              "student": build_model("fmnist_student").eval()}
    sample = np.ascontiguousarray(test.inputs[:2])
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, model in models.items():
            files = {"onnx_fp32": (Path(scratch) / f"{name}.onnx", "onnxruntime", export_onnx),
                     "tflite_fp32": (Path(scratch) / f"{name}.tflite", "litert", export_tflite_fp32)}
            for fmt, (path, runtime, export) in files.items():
                export(model, sample, path)
                candidate = {"model": name, "format": fmt, "runtime": runtime, "status": "ok", "path": str(path)}
                first, second = (bench_row(candidate, test, config) for _ in range(2))
                a, b = first["latency_ms_p50"], second["latency_ms_p50"]
                results.append({"model": name, "format": fmt, "p50_ms": [a, b], "runs": [first["runs"], second["runs"]],
                                "spread": abs(a - b) / min(a, b)})
                print(f"{name:8s} {fmt:12s} p50 {a:.4f} / {b:.4f} ms  spread {100 * results[-1]['spread']:.1f} %",
                      flush=True)
    summary = {"machine": describe_machine(), "threads": 1, "batch_size": 1, "pairs": results,
               "max_spread": max(r["spread"] for r in results)}
    OUT.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"largest spread {100 * summary['max_spread']:.1f} % (target < 10 %); wrote {OUT}")


if __name__ == "__main__":
    main()
