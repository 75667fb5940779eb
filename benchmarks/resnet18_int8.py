"""What the uint8-activation rewrite buys on ONNX Runtime: timm ResNet-18, fp32 vs int8 QDQ.

    .venv/bin/python benchmarks/resnet18_int8.py [--rounds 9] [--calibration 64]

Builds timm `resnet18` (10 classes, 3×96×96) with random weights: `zero_init_last=False`, so no
residual branch folds away, and BN statistics re-estimated on the calibration inputs. Calibrates it
with edgekd's PT2E quantiser on random normalised inputs, then exports three files with edgekd's
exporter:

  fp32           the float model
  int8_signed    PT2E's QDQ as it comes: int8 activations (`uint8_activations=False`)
  int8           the file edgekd writes: the same Q/DQ, rewritten to uint8 activations

For each: batch-1, one-thread ORT CPU latency (interleaved rounds, each ≥ 200 calls and ≥ 1 s after
warm-up; the median of the rounds' medians) and the float Conv nodes left in ORT's optimised graph.
Also top-1 agreement of the int8 file with the signed one on 256 random inputs. Random weights say
nothing about accuracy; the agreement checks that the rewrite kept the model. Writes
benchmarks/results/resnet18_int8.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe_machine  # noqa: E402
from edgekd.bench.latency import measure_latency  # noqa: E402
from edgekd.compress.quantization import calibrate, convert  # noqa: E402
from edgekd.export.onnx_export import export_onnx, integer_op_share  # noqa: E402
from edgekd.runtimes.base import predict  # noqa: E402
from edgekd.runtimes.onnxruntime_rt import OrtRuntime  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "resnet18_int8.json"
INPUT_SHAPE = (3, 96, 96)
VARIANTS = ("fp32", "int8_signed", "int8")


def export_variants(folder: Path, calibration_count: int, seed: int) -> dict[str, Path]:
    import timm
    import torch

    torch.manual_seed(seed)
    model = timm.create_model("resnet18", num_classes=10, in_chans=INPUT_SHAPE[0], zero_init_last=False).eval()
    calibration = np.random.default_rng(seed).normal(size=(calibration_count, *INPUT_SHAPE)).astype(np.float32)
    reestimate_batch_norm(model, calibration)
    files = {name: folder / f"{name}.onnx" for name in VARIANTS}
    export_onnx(model, calibration, files["fp32"])
    quantized = convert(calibrate(model, calibration, batch_size=16))
    export_onnx(quantized, calibration, files["int8_signed"], uint8_activations=False)
    export_onnx(quantized, calibration, files["int8"])
    return files


def reestimate_batch_norm(model, inputs: np.ndarray, batch_size: int = 16) -> None:
    """Random init leaves BN at mean 0 / var 1, so the logits hardly depend on the input and nearly
    every input lands in one class (which would make top-1 agreement trivially 100 %)."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a plain average over the batches seen
    model.train()
    with torch.no_grad():
        for start in range(0, len(inputs), batch_size):
            model(torch.from_numpy(inputs[start:start + batch_size]))
    model.eval()


def time_variants(files: dict[str, Path], rounds: int) -> dict[str, list[float]]:
    """Interleaved rounds, so a slow spell on a shared machine hits every variant alike."""
    sample = np.random.default_rng(1).normal(size=(1, *INPUT_SHAPE)).astype(np.float32)
    p50s: dict[str, list[float]] = {name: [] for name in files}
    for round_index in range(rounds):
        for name, path in files.items():
            p50s[name].append(measure_latency(OrtRuntime(path, threads=1).run, sample)["latency_ms_p50"])
        print(f"round {round_index + 1}/{rounds}: " + ", ".join(f"{n} {v[-1]:.3f} ms" for n, v in p50s.items()),
              flush=True)
    return p50s


def agreement(files: dict[str, Path], count: int) -> dict:
    """The int8 file differs from the signed one only where ORT fuses more of it into integer
    kernels, which round differently; with fusion off the two must give identical logits."""
    inputs = np.random.default_rng(2).normal(size=(count, *INPUT_SHAPE)).astype(np.float32)
    logits = {name: predict(OrtRuntime(path, threads=1), inputs) for name, path in files.items()}
    unfused = [unfused_logits(files[name], inputs) for name in ("int8_signed", "int8")]
    top1 = {name: value.argmax(1) for name, value in logits.items()}
    return {"agreement_inputs": count,
            "top1_agreement_int8_vs_signed": float((top1["int8"] == top1["int8_signed"]).mean()),
            "max_abs_diff_int8_vs_signed": float(np.abs(logits["int8"] - logits["int8_signed"]).max()),
            "max_abs_diff_int8_vs_signed_unfused": float(np.abs(unfused[1] - unfused[0]).max()),
            "output_scale": output_scale(files["int8"]),
            "top1_agreement_int8_vs_fp32": float((top1["int8"] == top1["fp32"]).mean()),
            "top1_agreement_signed_vs_fp32": float((top1["int8_signed"] == top1["fp32"]).mean()),
            # Random weights can put most inputs in one class, which makes agreement easy: say how many.
            "distinct_top1_classes_fp32": int(len(np.unique(top1["fp32"])))}


def unfused_logits(path: Path, inputs: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(None, {"input": inputs[i:i + 64]})[0] for i in range(0, len(inputs), 64)])


def output_scale(path: Path) -> float:
    """One quantisation step of the logits: the scale of the DequantizeLinear that makes them."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    final = next(node for node in graph.node if node.output[0] == graph.output[0].name)
    return float(next(numpy_helper.to_array(i) for i in graph.initializer if i.name == final.input[1]))


def main() -> None:
    import onnxruntime

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calibration", type=int, default=64, help="random calibration inputs")
    parser.add_argument("--agreement", type=int, default=256, help="random inputs for top-1 agreement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        files = export_variants(Path(scratch), args.calibration, args.seed)
        ops = {name: integer_op_share(path, Path(scratch) / f"{name}.optimized.onnx") for name, path in files.items()}
        sizes = {name: path.stat().st_size for name, path in files.items()}
        matched = agreement(files, args.agreement)
        p50s = time_variants(files, args.rounds)
    median = {name: statistics.median(values) for name, values in p50s.items()}
    result = {
        "machine": describe_machine(), "onnxruntime": onnxruntime.__version__, "model": "timm resnet18",
        "input_shape": list(INPUT_SHAPE), "batch_size": 1, "threads": 1, "rounds": args.rounds,
        "calibration_inputs": args.calibration,
        "ort_ms_p50_fp32": median["fp32"], "ort_ms_p50_int8": median["int8"],
        "ort_ms_p50_int8_signed": median["int8_signed"],
        "speedup_int8_vs_fp32": median["fp32"] / median["int8"],
        "speedup_int8_signed_vs_fp32": median["fp32"] / median["int8_signed"],
        # Within one round both files met the same load: the median of those ratios is steadier.
        "speedup_int8_vs_fp32_round_median": statistics.median(
            fp32 / int8 for fp32, int8 in zip(p50s["fp32"], p50s["int8"])),
        "float_convs": ops["int8"]["float_convs"], "float_convs_signed": ops["int8_signed"]["float_convs"],
        "float_convs_fp32": ops["fp32"]["float_convs"],
        **matched,
        "ort_ms_p50_rounds": p50s, "integer_ops": {name: ops[name]["integer_ops"] for name in VARIANTS[1:]},
        "file_bytes": sizes,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for key in ("ort_ms_p50_fp32", "ort_ms_p50_int8_signed", "ort_ms_p50_int8", "speedup_int8_vs_fp32",
                "speedup_int8_vs_fp32_round_median", "speedup_int8_signed_vs_fp32", "float_convs", "float_convs_signed",
                "top1_agreement_int8_vs_signed", "max_abs_diff_int8_vs_signed",
                "max_abs_diff_int8_vs_signed_unfused", "output_scale"):
        print(f"{key:34s} {result[key]:.4f}" if isinstance(result[key], float) else f"{key:34s} {result[key]}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
