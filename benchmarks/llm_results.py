"""Token-level distillation of SmolLM2-135M-Instruct into a 16M-parameter Llama student, on 2 CPU cores.

Runs pipelines/llm_distill.yaml (Rotten Tomatoes text, 256k training tokens per run) with every
token-level method and `--seeds`, then builds the teacher cache at k = 8 and 32 on `--cache-chunks`
chunks for its size and coverage (k = 16 is the pipeline's own cache). Writes
benchmarks/results/llm_results.json:
- `teacher`: params, held-out perplexity;
- `methods`: `ce`, `kd_forward`, `kd_reverse`, `gkd_jsd` and `seq_kd`, each with `heldout_ppl` (mean over
  seeds), `top1_agreement`, `tokens_trained`, wall `seconds` and `per_seed`;
- `transfer_set`: what the teacher wrote for `seq_kd` (`lm_generate`: sequences, tokens, seconds);
- `versus_ce`: per KD method and seed, the mean per-chunk NLL difference to CE (nats/token, positive:
  KD better) with its paired bootstrap 95 % interval;
- `cache_bytes_per_token` and `cache_topk_mass` keyed by k;
- `exports`: one row per model, format and thread count (teacher and student in PyTorch, the student's
  ONNX and TFLite files fp32/int8 and the teacher's ONNX files, each with a KV cache):
  `decode_tokens_per_s`, `ttft_ms`, `size_bytes`, the speedups over the teacher and over the same
  model's fp32 file in the same runtime;
- `emulated`: one row per model, format and emulated Arm core (QEMU Cortex-A53 / A76, one thread):
  `instructions_per_token` (median over the decode steps), `prefill_instructions`, and
  `tokens_agree_with_x86` (the same file's greedy tokens on x86); the PyTorch models are skipped rows;
- `parity`: each file's greedy decoding against the same model in PyTorch over 32 steps (the
  teacher's ONNX files against the teacher);
- `samples`: the fixed prompt, and what the teacher and the student write after it.
Sequence-level KD (Kim & Rush 2016) adds an `lm_generate` stage before `lm_distill`: the teacher
continues a 16-token prompt from each of the 2,000 training chunks to 128 tokens (nucleus sampling,
top-p 0.95), and `seq_kd` trains the same student with plain CE on those 256k tokens, so every method
sees the same token budget. The teacher writing them is the slow part on 2 cores (about 25 minutes);
`--no-seq-kd` leaves it out.
"""

from __future__ import annotations

import argparse
import json
import sys
from copy import deepcopy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe_machine  # noqa: E402
import yaml  # noqa: E402

from edgekd.config import load_config, parse_config  # noqa: E402
from edgekd.pipeline import run  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "llm_results.json"
PIPELINE = ROOT / "pipelines" / "llm_distill.yaml"


def cache_sizes(ks: list[int], chunks: int) -> dict:
    """bytes per token and mean top-k probability mass of the teacher cache at each k."""
    found = {}
    for k in ks:
        config = load_config(PIPELINE, overrides={
            "name": f"llm_results_cache_k{k}", "artifacts_dir": str(ROOT / "artifacts"),
            "data.train_subset": chunks, "data.test_subset": 8, "stages.1.k": k})
        config = config.model_copy(update={"stages": config.stages[:2]})
        metrics = run(config).artifacts["token_cache"].metrics
        found[k] = {"bytes_per_token": metrics["bytes_per_token"], "topk_mass_mean": metrics["topk_mass_mean"],
                    "topk_mass_p05": metrics["topk_mass_p05"], "tokens": metrics["tokens"]}
    return found


def benchmark_config(seeds: list[int], seq_kd: bool):
    """The pipeline with this benchmark's seeds and, for `seq_kd`, the teacher-writes stage before lm_distill."""
    raw = yaml.safe_load(PIPELINE.read_text())
    raw["artifacts_dir"] = str(ROOT / "artifacts")
    stages = deepcopy(raw["stages"])
    distill = next(i for i, stage in enumerate(stages) if stage["type"] == "lm_distill")
    stages[distill]["seeds"] = seeds
    if seq_kd:
        # batch 64: the teacher writes ~1.35x more tokens per second than at the stage's default 16 here.
        stages.insert(distill, {"type": "lm_generate", "prompt_tokens": 16, "batch_size": 64})
        stages[distill + 1]["methods"] = [*stages[distill + 1]["methods"], "seq_kd"]
    raw["stages"] = stages
    return parse_config(raw, source=str(PIPELINE))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--cache-chunks", type=int, default=256)
    parser.add_argument("--seq-kd", action=argparse.BooleanOptionalAction, default=True,
                        help="include sequence-level KD (the teacher writes the transfer set first)")
    args = parser.parse_args()
    config = benchmark_config(args.seeds, args.seq_kd)
    result = run(config)
    generated = result.artifacts["lm_generate"].metrics if args.seq_kd else None
    teacher, cache = result.artifacts["lm_teacher"].metrics, result.artifacts["token_cache"].metrics
    distilled = result.artifacts["lm_distill"].metrics
    exported, bench = result.artifacts["lm_export"].metrics, result.artifacts["lm_bench"].metrics
    sizes = cache_sizes([8, 32], args.cache_chunks)
    sizes[16] = {key: cache[key] for key in ("bytes_per_token", "topk_mass_mean", "topk_mass_p05", "tokens")}
    results = {
        "machine": describe_machine(),
        "command": "benchmarks/llm_results.py " + " ".join(sys.argv[1:]),
        "pipeline": "pipelines/llm_distill.yaml",
        "data": config.data.model_dump(mode="json"),
        "teacher": {"model": teacher["model"], "params": teacher["params"], "heldout_ppl": teacher["heldout_ppl"],
                    "precision": teacher["precision"], "heldout_tokens": teacher["heldout_tokens"]},
        "student": {"params": distilled["params"], "config": distilled["student"],
                    "alpha": distilled["alpha"], "beta": distilled["beta"]},
        "methods": distilled["methods"],
        "versus_ce": distilled["versus_ce"],
        "transfer_set": generated and {key: generated[key] for key in (
            "sequences", "tokens_per_sequence", "generated_tokens", "seconds", "generated_tokens_per_second",
            "precision")},
        "teacher_cache": {"k": cache["k"], "seconds": cache["seconds"], "tokens_per_second": cache["tokens_per_second"],
                          "precision": cache["precision"], "total_bytes": cache["total_bytes"]},
        "cache_bytes_per_token": {str(k): sizes[k]["bytes_per_token"] for k in sorted(sizes)},
        "cache_topk_mass": {str(k): {"mean": sizes[k]["topk_mass_mean"], "p05": sizes[k]["topk_mass_p05"]}
                            for k in sorted(sizes)},
        **export_sections(exported, bench),
        "not_built": ["emulated instructions per token of the PyTorch teacher and student (the aarch64 guest "
                      "has torch without transformers; the student's exported files are emulated)",
                      *([] if args.seq_kd else ["seq_kd (run without --no-seq-kd)"])],
    }
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"teacher  ppl {teacher['heldout_ppl']:.2f}  {teacher['params']:,} params")
    for name, method in results["methods"].items():
        print(f"{name:10s} ppl {method['heldout_ppl']:.2f}  top-1 agreement {method['top1_agreement']:.1%}  "
              f"{method['tokens_trained']:,} tokens  {method['seconds']:.0f} s")
    for name, comparisons in results["versus_ce"].items():
        print(name, [f"{c['mean_nats_per_token']:+.3f} [{c['ci95'][0]:+.3f}, {c['ci95'][1]:+.3f}]" for c in comparisons])
    print_exports(results)
    print(f"wrote {OUT.relative_to(ROOT)}")


def export_sections(exported: dict, bench: dict) -> dict:
    """`exports`, `parity`, `samples` and `emulated` from one run's lm_export and lm_bench metrics."""
    return {"exports": bench["rows"],
            "parity": [{key: row.get(key) for key in ("model", "format", "status", "reason", "size_bytes", "parity")}
                       for row in exported["exports"]],
            "samples": bench["samples"], "emulated": bench["emulated"]}


def print_exports(results: dict) -> None:
    for row in results["exports"]:
        print(f"{row['model']:8s} {row['format']:14s} {row['threads']} thr  {row['decode_tokens_per_s']:8.1f} tok/s  "
              f"TTFT {row['ttft_ms']:7.1f} ms  {row['size_bytes'] / 1e6:6.1f} MB  "
              f"x{row.get('decode_speedup_vs_teacher', 0):.1f} vs teacher"
              + (f"  x{row['decode_speedup_vs_fp32']:.2f} vs fp32" if "decode_speedup_vs_fp32" in row else ""))
    for row in results["parity"]:
        if row["status"] == "ok":
            parity = row["parity"]
            print(f"{row['model']:8s} {row['format']:14s} max|Δlogit|/max|logit| {parity['rel_logit_error']:.1e}  "
                  "greedy tokens as PyTorch's " + ("every step" if parity["first_token_mismatch"] is None
                                                   else f"until step {parity['first_token_mismatch']}"))
        else:
            print(f"{row['model']:8s} {row['format']:14s} failed: {row['reason']}")
    for row in results["emulated"]:
        if row["status"] == "ok":
            print(f"{row['model']:8s} {row['format']:14s} {row['target']:22s} "
                  f"{row['instructions_per_token'] / 1e6:6.2f}M instructions/token  "
                  f"prefill {row['prefill_instructions'] / 1e6:7.1f}M  {row['tokens_agree_with_x86']} tokens as on x86")


if __name__ == "__main__":
    main()
