"""What each compression step buys on a CPU: the results table of benchmarks/README.md.

    .venv/bin/python benchmarks/compression_results.py

Runs the two worked pipelines up to their exports (pipelines/distill_qat.yaml and
pipelines/distill_prune_qat.yaml: same teacher, cache and width-64 distilled student, reused from
artifacts/ when they are there), adds the PTQ int8 baseline of the unpruned student with the library's
own calibration and exporters, then measures the five variants in this one process:

  fp32             the distilled student
  ptq_int8         the same, post-training quantised (512 training images)
  qat_int8         the same, after quantisation-aware KD fine-tuning
  pruned_fp32      pruned to half its MACs (structured, KD fine-tuned)
  pruned_qat_int8  the pruned student after quantisation-aware KD fine-tuning

For each: test accuracy (of the ONNX file, on all 10,000 test images; the PyTorch and TFLite
accuracies beside it), params, MACs, file sizes, batch-1 single-thread latency medians on ONNX Runtime
(CPU EP) and LiteRT (XNNPACK), and top-1 agreement of each file with the PyTorch model of the same
variant (fp32, or the fake-quantised model for int8). Latency: three interleaved rounds over all
files, each ≥ 200 runs and ≥ 1 s after warm-up; the median of the three medians is reported.
Writes benchmarks/results/compression_results.json.
"""

from __future__ import annotations

import copy
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe_machine  # noqa: E402
from edgekd.bench.latency import measure_latency  # noqa: E402
from edgekd.bench.macs import forward_macs  # noqa: E402
from edgekd.config import load_config  # noqa: E402
from edgekd.model_artifacts import accuracy, load_model, torch_logits  # noqa: E402
from edgekd.parity import parity  # noqa: E402
from edgekd.pipeline import run  # noqa: E402
from edgekd.quiet import quiet_third_party  # noqa: E402
from edgekd.runtimes.base import predict  # noqa: E402
from edgekd.runtimes.litert_rt import LiteRTRuntime  # noqa: E402
from edgekd.runtimes.onnxruntime_rt import OrtRuntime  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "compression_results.json"
PIPELINES = {"plain": ROOT / "pipelines" / "distill_qat.yaml", "pruned": ROOT / "pipelines" / "distill_prune_qat.yaml"}
MEASURED_STAGES = ("bench", "report")  # this script times the files itself, all in one process
ROUNDS = 3
CALIBRATION_SAMPLES = 512


def main() -> None:
    quiet_third_party()
    runs = {key: run_until_exports(path) for key, path in PIPELINES.items()}
    plain, pruned = runs["plain"], runs["pruned"]
    test = _test_split(plain)
    with tempfile.TemporaryDirectory() as scratch:
        variants = {
            "fp32": exported_variant(plain, "fp32", test),
            "ptq_int8": ptq_variant(plain, test, Path(scratch)),
            "qat_int8": exported_variant(plain, "int8", test),
            "pruned_fp32": exported_variant(pruned, "fp32", test),
            "pruned_qat_int8": exported_variant(pruned, "int8", test),
        }
        time_variants(variants, test.inputs[:1])
    baseline = variants["fp32"]
    for variant in variants.values():
        variant.pop("files")
        variant["ort_speedup_vs_fp32"] = baseline["ort_ms_p50"] / variant["ort_ms_p50"]
        variant["tflite_speedup_vs_fp32"] = baseline["tflite_ms_p50"] / variant["tflite_ms_p50"]
        variant["accuracy_cost_pt"] = 100 * (baseline["accuracy"] - variant["accuracy"])
    summary = targets(variants)
    teacher = plain.artifacts["teacher"].metrics
    results = {"machine": describe_machine(), "threads": 1, "batch_size": 1, "rounds": ROUNDS,
               "student": {"model": plain.artifacts["distill"].metrics["model"],
                           "kwargs": plain.artifacts["distill"].metrics["model_kwargs"]},
               "teacher": {"accuracy": teacher.get("accuracy"), "params": teacher.get("params")},
               "qat_epochs": plain.artifacts["qat"].metrics["epochs"], "variants": variants, "targets": summary}
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print_table(variants, summary)
    print(f"wrote {OUT}")


def run_until_exports(path: Path):
    """Run a worked pipeline without its bench and report stages (their ids do not change the others')."""
    config = load_config(path)
    config = config.model_copy(update={"stages": [s for s in config.stages if s.type not in MEASURED_STAGES]})
    return run(config)


def _test_split(result):
    from edgekd.context import DataSource

    return DataSource(result.config.data).split("test")


def exported_variant(result, precision: str, test) -> dict:
    """A variant whose files the pipeline's export stages made (and checked for parity)."""
    student = result.artifacts["prune" if "prune" in result.artifacts else "distill"]
    files, agreement = {}, {}
    for family in ("onnx", "tflite"):
        export = result.artifacts[f"export_{family}"]
        record = next(r for r in export.metrics["exports"]
                      if r["model"] == "student" and r["format"] == f"{family}_{precision}")
        if record["status"] != "ok":
            raise SystemExit(f"{family} {precision} export failed: {record['reason']}")
        files[family] = export.path / record["file"]
        agreement[family] = record
    torch_accuracy = (result.artifacts["qat"].metrics["accuracy"] if precision == "int8"
                      else student.metrics["accuracy"])
    return describe_variant(load_model(student), files, agreement, torch_accuracy, test)


def ptq_variant(result, test, folder: Path) -> dict:
    """The PTQ baseline: the distilled student calibrated on 512 training images, exported the same way."""
    from edgekd.context import DataSource
    from edgekd.export.onnx_export import export_onnx
    from edgekd.export.tflite_export import export_tflite_int8
    from edgekd.compress.quantization import calibrate, calibration_sample, convert

    model = load_model(result.artifacts["distill"])
    train = DataSource(result.config.data).split("train")
    prepared = calibrate(model, calibration_sample(train.inputs, CALIBRATION_SAMPLES, result.config.seed))
    quantized = convert(copy.deepcopy(prepared))  # convert_pt2e rewrites the module it is given
    reference = torch_logits(quantized, test.inputs)
    files = {"onnx": folder / "ptq_int8.onnx", "tflite": folder / "ptq_int8.tflite"}
    export_tflite_int8(convert(prepared), test.inputs, files["tflite"])  # litert-torch wants weights unfolded
    export_onnx(quantized, test.inputs, files["onnx"])  # folds the weights of `quantized` in place
    agreement = {"onnx": parity(reference, predict(OrtRuntime(files["onnx"]), test.inputs)),
                 "tflite": parity(reference, predict(LiteRTRuntime(files["tflite"]), test.inputs))}
    return describe_variant(model, files, agreement, accuracy(reference, test.labels), test)


def describe_variant(model, files: dict, agreement: dict, torch_accuracy: float, test) -> dict:
    import torch

    onnx_logits = predict(OrtRuntime(files["onnx"]), test.inputs)
    tflite_logits = predict(LiteRTRuntime(files["tflite"]), test.inputs)
    return {
        "accuracy": accuracy(onnx_logits, test.labels),
        "pytorch_accuracy": torch_accuracy,
        "tflite_accuracy": accuracy(tflite_logits, test.labels),
        "params": sum(p.numel() for p in model.parameters()),
        "macs": forward_macs(model, torch.from_numpy(test.inputs[:1])),
        "onnx_bytes": files["onnx"].stat().st_size,
        "tflite_bytes": files["tflite"].stat().st_size,
        "onnx_top1_agreement": agreement["onnx"]["top1_agreement"],
        "tflite_top1_agreement": agreement["tflite"]["top1_agreement"],
        "onnx_parity_max_abs": agreement["onnx"]["parity_max_abs"],
        "tflite_parity_max_abs": agreement["tflite"]["parity_max_abs"],
        "files": files,
    }


def time_variants(variants: dict, sample: np.ndarray) -> None:
    """Interleaved rounds, so a slow spell on a shared machine hits every variant alike."""
    timings: dict[tuple[str, str], list[float]] = {}
    for round_index in range(ROUNDS):
        for name, variant in variants.items():
            for family, runtime_class in (("onnx", OrtRuntime), ("tflite", LiteRTRuntime)):
                runtime = runtime_class(variant["files"][family], threads=1)
                p50 = measure_latency(runtime.run, sample)["latency_ms_p50"]
                timings.setdefault((name, family), []).append(p50)
        print(f"timing round {round_index + 1}/{ROUNDS} done", flush=True)
    for (name, family), values in timings.items():
        key = "ort_ms_p50" if family == "onnx" else "tflite_ms_p50"
        variants[name][key] = statistics.median(values)
        variants[name][key.replace("_p50", "_p50_rounds")] = values


def targets(variants: dict) -> dict:
    """The issue's acceptance figures, measured in this run."""
    fp32, qat, best = variants["fp32"], variants["qat_int8"], variants["pruned_qat_int8"]
    agreements = [v[f"{family}_top1_agreement"] for key, v in variants.items() if key.endswith("int8")
                  for family in ("onnx", "tflite")]
    return {
        "pruned_qat_ort_speedup": best["ort_speedup_vs_fp32"],
        "pruned_qat_accuracy_cost_pt": best["accuracy_cost_pt"],
        "pruned_qat_target_met": best["ort_speedup_vs_fp32"] >= 2.0 and best["accuracy_cost_pt"] <= 1.0,
        "qat_vs_fp32_pt": 100 * (qat["pytorch_accuracy"] - fp32["pytorch_accuracy"]),
        "qat_within_0_3_pt": fp32["pytorch_accuracy"] - qat["pytorch_accuracy"] <= 0.003,
        "min_int8_top1_agreement": min(agreements),
        "parity_target_met": min(agreements) >= 0.995,
    }


def print_table(variants: dict, summary: dict) -> None:
    print(f"{'variant':16s} {'acc %':>6s} {'params':>8s} {'MACs':>11s} {'ONNX KB':>8s} {'TFLite KB':>9s} "
          f"{'ORT ms':>7s} {'TFLite ms':>9s} {'ORT agree':>9s} {'TFL agree':>9s}")
    for name, v in variants.items():
        print(f"{name:16s} {100 * v['accuracy']:6.2f} {v['params']:8,d} {v['macs']:11,d} {v['onnx_bytes'] / 1024:8.1f} "
              f"{v['tflite_bytes'] / 1024:9.1f} {v['ort_ms_p50']:7.4f} {v['tflite_ms_p50']:9.4f} "
              f"{100 * v['onnx_top1_agreement']:9.2f} {100 * v['tflite_top1_agreement']:9.2f}")
    print(f"pruned + QAT int8 on ORT: {summary['pruned_qat_ort_speedup']:.2f}x faster than fp32 at "
          f"{summary['pruned_qat_accuracy_cost_pt']:+.2f} pt accuracy cost (target >= 2x at <= 1 pt: "
          f"{'met' if summary['pruned_qat_target_met'] else 'NOT met'}); "
          f"QAT vs fp32 {summary['qat_vs_fp32_pt']:+.2f} pt; "
          f"lowest int8 top-1 agreement {100 * summary['min_int8_top1_agreement']:.2f} %")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"took {(time.perf_counter() - started) / 60:.1f} min")
