"""Every exported file of the llm_distill student and teacher, timed in one run, the onnx_gqa_* files among them.

llm_results.py trains every method on every seed (hours on 2 cores) before it exports the
`lm_distill.export` method's first-seed student. This script trains only that student, runs
`lm_export` with every format of pipelines/llm_distill.yaml and `lm_bench` over all of them, and writes
benchmarks/results/llm_exports.json: the `exports`, `parity`, `samples` and `emulated` sections of
llm_results.json, for this run. `student` says whether it is the very student llm_results.json
measured (the same held-out perplexity): the teacher cache runs in bf16 where the CPU has it and in
fp32 elsewhere, so on another machine the same config trains a slightly different student.
`--emulated-tokens` (16 by default, the pipeline says 64) keeps the emulated Arm decoding of the
135M teacher's block-int8 files to minutes.
    .venv/bin/python benchmarks/llm_exports.py
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.llm_results import OUT as LLM_RESULTS, PIPELINE, export_sections, print_exports  # noqa: E402
from benchmarks.machine import describe_machine  # noqa: E402
import yaml  # noqa: E402

from edgekd.config import parse_config  # noqa: E402
from edgekd.pipeline import run  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "llm_exports.json"


def exports_config(emulated_tokens: int):
    """The pipeline with lm_distill narrowed to the exported method and the first seed of llm_results.py."""
    raw = yaml.safe_load(PIPELINE.read_text())
    raw["artifacts_dir"] = str(ROOT / "artifacts")
    stages = {stage["type"]: stage for stage in raw["stages"]}
    stages["lm_distill"]["methods"], stages["lm_distill"]["seeds"] = [stages["lm_distill"]["export"]], [0]
    stages["lm_bench"]["emulated_tokens"] = emulated_tokens
    return parse_config(raw, source=str(PIPELINE))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emulated-tokens", type=int, default=16)
    args = parser.parse_args()
    config = exports_config(args.emulated_tokens)
    result = run(config)
    distilled = result.artifacts["lm_distill"].metrics
    method = distilled["export_method"]
    trained = distilled["methods"][method]["heldout_ppl"]
    recorded = json.loads(LLM_RESULTS.read_text())["methods"][method]["per_seed"]
    expected = next(s["heldout_ppl"] for s in recorded if s["seed"] == 0)
    cache = result.artifacts["token_cache"].metrics
    results = {
        "machine": describe_machine(),
        "command": "benchmarks/llm_exports.py " + " ".join(sys.argv[1:]),
        "pipeline": "pipelines/llm_distill.yaml",
        "student": {"method": method, "seed": 0, "params": distilled["params"], "heldout_ppl": trained,
                    "teacher_cache_precision": cache["precision"], "llm_results_heldout_ppl": expected,
                    "same_as_llm_results": math.isclose(trained, expected, rel_tol=1e-6)},
        "emulated_tokens": args.emulated_tokens,
        **export_sections(result.artifacts["lm_export"].metrics, result.artifacts["lm_bench"].metrics),
    }
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print_exports(results)
    print(f"student {method} seed 0: held-out perplexity {trained:.2f} ({expected:.2f} in llm_results.json)")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
