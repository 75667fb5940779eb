"""Your model, your data: the four worked pipelines end to end, and what each one bought.

    .venv/bin/python benchmarks/own_models.py

Prepares the data the pipelines read (PNG class folders from Fashion-MNIST, the shipped teacher as
ONNX) when it is missing, runs each pipeline with `edgekd run`'s engine (reusing artifacts/), and reads
its report: teacher accuracy; the student's accuracy with KD and with CE alone over the pipeline's
seeds; int8 accuracy; parameter and size ratios; batch-1 single-thread p50 on ONNX Runtime and LiteRT;
fp32 parity relative to the largest logit; int8 top-1 agreement with the fake-quantised model.
Latency comes from each pipeline's bench stage (>= 200 runs, >= 1 s each). Also adds timm ResNet-18's
int8 figures from benchmarks/results/resnet18_int8.json when benchmarks/resnet18_int8.py wrote it.
Writes benchmarks/results/own_models.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe_machine  # noqa: E402
from edgekd.config import load_config  # noqa: E402
from edgekd.pipeline import run  # noqa: E402
from edgekd.quiet import quiet_third_party  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "own_models.json"
PIPELINES = ("image_folder_timm", "digits_own_model", "sensor_arrays", "onnx_teacher")
PREPARE = {  # the file a pipeline reads -> the script that writes it
    "artifacts/fmnist_png": ["examples/data/fashion_mnist_to_png.py"],
    "artifacts/fmnist_teacher.onnx": ["examples/data/export_shipped_teacher.py"],
}


def prepare_inputs() -> None:
    for target, script in PREPARE.items():
        if not (ROOT / target).exists():
            subprocess.run([sys.executable, *script], cwd=ROOT, check=True)


def rows_by_key(result) -> dict:
    report = json.loads((result.artifacts["report"].path / "report.json").read_text())
    return {(r["model"], r["format"]): r for r in report["rows"]
            if r["target"] in ("torch-cpu", "ort-cpu", "litert") and r.get("batch_size", 1) == 1}


def summarise(result, seconds: float) -> dict:
    rows = rows_by_key(result)
    distill = result.artifacts["distill"].metrics
    student = rows[("student", "pytorch")]
    teacher_params = result.artifacts["teacher"].metrics["params"]
    student_artifact = [o.artifact for o in result.outcomes if o.type in ("distill", "prune", "sparsify")][-1]

    def p50(fmt):
        row = rows.get(("student", fmt))
        return row["latency_ms_p50"] if row and row["status"] == "ok" else None

    def kd_ce(method):
        entry = distill["kd_vs_ce"][method]
        return {"mean": entry["mean"], "std": entry["std"], "seeds": entry["seeds"], "accuracies": entry["accuracies"]}

    return {
        "teacher_accuracy": rows[("teacher", "pytorch")]["accuracy"],
        "student_accuracy": student["accuracy"],
        "kd": kd_ce("kd"), "ce": kd_ce("ce"),
        "int8_accuracy": rows[("student", "onnx_int8")]["accuracy"],
        "params_ratio": teacher_params / student_artifact.metrics["params"],
        "teacher_params": teacher_params, "student_params": student_artifact.metrics["params"],
        "size_ratio": teacher_onnx_bytes(result, rows) / rows[("student", "onnx_fp32")]["size_bytes"],
        "ort_ms_p50": {"fp32": p50("onnx_fp32"), "int8": p50("onnx_int8")},
        "litert_ms_p50": {"fp32": p50("tflite_fp32"), "int8": p50("tflite_int8")},
        # An onnx: teacher has no export of its own: its "pytorch" row is its ONNX file in ONNX Runtime.
        "teacher_ort_ms_p50_fp32": rows.get(("teacher", "onnx_fp32"), rows[("teacher", "pytorch")])["latency_ms_p50"],
        "fp32_parity_rel": max(rows[("student", f)]["parity_rel"] for f in ("onnx_fp32", "tflite_fp32")),
        "onnx_int8_top1_agreement": rows[("student", "onnx_int8")]["top1_agreement"],
        "tflite_int8_top1_agreement": rows[("student", "tflite_int8")]["top1_agreement"],
        "student_spec": student_artifact.metrics["model"],
        "teacher_spec": result.artifacts["teacher"].metrics["model"],
        "wall_seconds": seconds,
    }


def teacher_onnx_bytes(result, rows) -> int:
    """The teacher's fp32 ONNX size: its export, or for an `onnx:` teacher the file it came from."""
    if ("teacher", "onnx_fp32") in rows:
        return rows[("teacher", "onnx_fp32")]["size_bytes"]
    spec = result.artifacts["teacher"].metrics["model_spec"]["name"]
    return (ROOT / spec.removeprefix("onnx:")).stat().st_size


def main() -> None:
    os.chdir(ROOT)  # the pipelines name their data and artifacts relative to the checkout
    quiet_third_party()
    prepare_inputs()
    results = {}
    for name in PIPELINES:
        started = time.perf_counter()
        result = run(load_config(ROOT / "pipelines" / f"{name}.yaml"))
        results[name] = summarise(result, time.perf_counter() - started)
        kd, ce = results[name]["kd"]["mean"], results[name]["ce"]["mean"]
        print(f"{name}: teacher {results[name]['teacher_accuracy']:.4f}, KD {kd:.4f} vs CE {ce:.4f}, "
              f"int8 {results[name]['int8_accuracy']:.4f}, params {results[name]['params_ratio']:.1f}x smaller")
    payload = {"pipelines": results, "machine": describe_machine(),
               "command": ".venv/bin/python benchmarks/own_models.py"}
    resnet = ROOT / "benchmarks" / "results" / "resnet18_int8.json"
    if resnet.is_file():
        payload["resnet18_int8"] = json.loads(resnet.read_text())
    OUT.write_text(json.dumps(payload, indent=2))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
