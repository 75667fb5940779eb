"""Where a decode step's time goes in ONNX Runtime: the exported student's fp32 and int8 files, 1 and 2 threads.

Why int8 gains less from a second thread than fp32 (benchmarks/README.md): int8 only speeds up the
matmuls, and the rest of a decode step (some 300 small nodes of RMSNorm, rotary embedding, the causal
mask, the cache concat) is a fixed cost that a second thread does not shrink. Greedy-decodes the
fixed prompt of the latest `lm_export` artifact (pipelines/llm_distill.yaml, or `--export`) with ORT's
profiler on, and sums kernel time per op type over the decode steps (the prefill left out). The
profiler slows every node, so the shares are the result, not the speeds; decode speed without it is
`llm_results.py`'s. Writes benchmarks/results/lm_decode_profile.json.

    .venv/bin/python benchmarks/lm_decode_profile.py [--export artifacts/lm_export-<id>]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe_machine  # noqa: E402
from edgekd.export.causal_lm_onnx import greedy_decode_onnx  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "lm_decode_profile.json"
MATMULS = {"MatMul", "DynamicQuantizeMatMul", "MatMulIntegerToFloat", "MatMulInteger", "MatMulNBits",
           "DynamicQuantizeLinear", "Gemm", "FusedMatMul"}
FILES = {"onnx_fp32": "student.onnx", "onnx_int8": "student.int8.onnx"}


def profile(path: Path, prompt, new_tokens: int, threads: int) -> dict:
    """Kernel microseconds per decode step by op type, and the matmul share of the kernel time."""
    with tempfile.TemporaryDirectory() as folder:
        timings = greedy_decode_onnx(path, prompt, new_tokens, threads, profile_prefix=f"{folder}/profile")[2]
        events = json.loads(Path(timings["profile"]).read_text())
    runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    decode_from = runs[1]["ts"]  # the first run is the prefill
    per_op: collections.Counter = collections.Counter()
    nodes = 0
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time") and event["ts"] >= decode_from:
            per_op[event["args"]["op_name"]] += event["dur"]
            nodes += 1
    steps = len(runs) - 1
    kernel = sum(per_op.values()) / steps
    matmul = sum(v for op, v in per_op.items() if op in MATMULS) / steps
    return {"threads": threads, "decode_steps": steps, "nodes_per_step": nodes / steps,
            "step_us_profiled": sum(r["dur"] for r in runs[1:]) / steps, "kernel_us": kernel,
            "matmul_us": matmul, "other_us": kernel - matmul, "matmul_share": matmul / kernel,
            "top_ops_us": {op: v / steps for op, v in per_op.most_common(10)}}


def latest_export() -> Path:
    found = sorted((ROOT / "artifacts").glob("lm_export-*/manifest.json"), key=os.path.getmtime)
    if not found:
        sys.exit("no lm_export artifact: run pipelines/llm_distill.yaml (or benchmarks/llm_results.py) first")
    return found[-1].parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", type=Path, help="an lm_export artifact folder (default: the latest)")
    parser.add_argument("--new-tokens", type=int, default=64)
    args = parser.parse_args()
    folder = args.export or latest_export()
    prompt = np.load(folder / "prompt.npy")
    rows = []
    for threads in (1, 2):
        for fmt, name in FILES.items():
            row = {"format": fmt, **profile(folder / name, prompt, args.new_tokens, threads)}
            rows.append(row)
            print(f"{fmt:10s} {threads} thr  {row['nodes_per_step']:.0f} nodes/step  kernels {row['kernel_us']:7.0f} us  "
                  f"matmuls {row['matmul_us']:7.0f} us ({row['matmul_share']:.0%})  other {row['other_us']:6.0f} us")
    OUT.write_text(json.dumps({"machine": describe_machine(), "command": "benchmarks/lm_decode_profile.py",
                               "export": folder.name, "new_tokens": args.new_tokens, "rows": rows}, indent=2) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
