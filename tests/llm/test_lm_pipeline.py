"""Token-level distillation through the real pipeline: SmolLM2-135M teacher, Python's docs as text, a
tiny Llama student trained with CE and with forward KL to the cached top-k teacher. The core
pipeline (`_core_config`) runs first, then the full one reuses its teacher and cache; pytest's
--durations shows the core's time as the setup of the first test that uses it."""

import pytest

from edgekd.config import parse_config
from edgekd.errors import ArtifactError, ConfigError
from edgekd.pipeline import run
from edgekd.stages.lm_bench import fp32_format
from tests.llm.conftest import SMOLLM2

pytestmark = pytest.mark.e2e

# The default four and the builder's fused graph with its dynamic int8 (the fastest int8 file). The
# other formats' exporters are tested on a tiny Llama in test_causal_lm_onnx / _genai, and their
# file names and fp32 partners below: each file here costs the pipeline a parity run, a bench row,
# a process for its peak memory and an emulated decode.
FORMATS = ["onnx_fp32", "onnx_int8", "onnx_gqa_fp32", "onnx_gqa_int8", "tflite_fp32", "tflite_int8"]
STUDENT = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 1, "num_attention_heads": 2,
           "num_key_value_heads": 1}


def _config(tmp_path, distill: dict | None = None, data: dict | None = None):
    return parse_config({
        "name": "llm", "artifacts_dir": str(tmp_path / "artifacts"),
        "data": {"type": "tokens", "tokenizer": SMOLLM2, "length": 32, "train_subset": 48, "test_subset": 8,
                 **(data or {})},
        "stages": [{"type": "lm_teacher", "model": SMOLLM2},
                   {"type": "token_cache", "k": 8, "shard_rows": 16},
                   {"type": "lm_generate", "sequences": 16, "prompt_tokens": 8, "batch_size": 16},
                   {"type": "lm_distill", "student": STUDENT, "methods": ["ce", "kd_forward", "seq_kd"],
                    "train": {"epochs": 2, "batch_size": 8, "lr": 3e-3}, **(distill or {})},
                   {"type": "lm_export", "prompt_tokens": 16, "parity_steps": 16, "kv_cache_max_len": 64,
                    "formats": FORMATS},
                   {"type": "lm_bench", "threads": [1], "repeats": 1, "new_tokens": 8, "sample_tokens": 8,
                    "emulated_cpus": ["cortex-a53"], "emulated_tokens": 4}],
    })


def _core_config(tmp_path):
    """The issue's reduced pipeline, the part meant to take under two minutes: the teacher, its
    cache, CE and forward-KL students, the KV-cache ONNX files and their decode speed. `_config`
    then adds the rest in the same folder (reusing the teacher and its cache): sequence-level KD, the
    builder's and TFLite's files, peak memory and the emulated decode."""
    full = _config(tmp_path).model_dump(mode="json")
    stages = {stage["type"]: stage for stage in full["stages"]}
    stages["lm_distill"]["methods"] = ["ce", "kd_forward"]
    stages["lm_export"]["formats"] = ["onnx_fp32", "onnx_int8"]
    stages["lm_bench"].update(memory=False, emulated_cpus=[])
    full["stages"] = [stages[name] for name in ("lm_teacher", "token_cache", "lm_distill", "lm_export", "lm_bench")]
    return parse_config(full)


@pytest.fixture(scope="module")
def core(tmp_path_factory):
    folder = tmp_path_factory.mktemp("llm")
    return folder, run(_core_config(folder))


@pytest.fixture(scope="module")
def distilled(core):
    folder, _ = core
    return folder, run(_config(folder))


def test_the_core_pipeline_decodes_int8_and_the_full_one_reuses_its_teacher_and_cache(core, distilled):
    _, first = core
    _, full = distilled
    assert not any(outcome.reused for outcome in first.outcomes)
    rows = {row["format"]: row for row in first.artifacts["lm_bench"].metrics["rows"] if row["model"] == "student"}
    assert set(rows) == {"pytorch", "onnx_fp32", "onnx_int8"} and rows["onnx_int8"]["decode_tokens_per_s"] > 0
    reused = {outcome.type: outcome.reused for outcome in full.outcomes}
    assert reused["lm_teacher"] and reused["token_cache"] and not reused["lm_distill"]
    assert full.artifacts["token_cache"].id == first.artifacts["token_cache"].id


def test_teacher_cache_and_students(distilled):
    _, result = distilled
    teacher, cache = result.artifacts["lm_teacher"].metrics, result.artifacts["token_cache"].metrics
    assert teacher["params"] == 134_515_008 and 5 < teacher["heldout_ppl"] < 200
    assert cache["tokens"] == 48 * 32 and cache["bytes_per_token"] == 4 * 8 + 2 and cache["shards"] == 3
    assert 0.4 < cache["topk_mass_mean"] < 1.0
    metrics = result.artifacts["lm_distill"].metrics
    assert set(metrics["methods"]) == {"ce", "kd_forward", "seq_kd"}
    for name, method in metrics["methods"].items():
        assert method["tokens_trained"] == 2 * (16 if name == "seq_kd" else 48) * 32
        assert 0.0 <= method["top1_agreement"] <= 1.0
        assert method["heldout_ppl"] < 49152  # a random 49k-way guess; two epochs already beat it
    comparison, = metrics["versus_ce"]["kd_forward"]
    low, high = comparison["ci95"]
    assert low <= comparison["mean_nats_per_token"] <= high and comparison["chunks"] == 8


def test_the_teacher_writes_whole_chunks_from_real_prompts(distilled):
    import numpy as np

    from edgekd.context import DataSource

    folder, result = distilled
    generate = result.artifacts["lm_generate"]
    written = np.load(generate.path / "generated.npy")
    assert written.shape == (16, 33) and generate.metrics["generated_tokens"] == 16 * 25
    data = DataSource(_config(folder).data, cache_dir=folder / "artifacts" / ".data")
    prompts = {tuple(chunk[:8]) for chunk in data.split("train").inputs}
    assert all(tuple(row[:8]) in prompts for row in written)  # prompts are real training text


def test_the_exported_student_is_a_safetensors_folder_with_the_teachers_vocabulary(distilled):
    import torch
    from transformers import AutoModelForCausalLM

    _, result = distilled
    metrics = result.artifacts["lm_distill"].metrics
    folder = result.artifacts["lm_distill"].path / metrics["student_folder"]
    student = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, use_safetensors=True)
    assert student.config.vocab_size == 49152 and student.config.eos_token_id == 2
    assert sum(p.numel() for p in student.parameters()) == metrics["params"]
    ids = torch.tensor([[504, 3575, 282, 4649, 314]])
    assert student(input_ids=ids).logits.shape == (1, 5, 49152)


def test_every_file_has_a_kv_cache_and_matches_pytorch(distilled):
    _, result = distilled
    rows = {row["format"]: row for row in result.artifacts["lm_export"].metrics["exports"]}
    assert set(rows) == set(FORMATS)
    assert all(row["status"] == "ok" for row in rows.values()), rows
    assert rows["onnx_gqa_int8"]["file"] == "student.gqa-int8.onnx"
    for fmt in ("onnx_fp32", "onnx_gqa_fp32", "tflite_fp32"):
        parity = rows[fmt]["parity"]
        assert parity["rel_logit_error"] <= 1e-4 and parity["first_token_mismatch"] is None
    for fmt in ("onnx_int8", "onnx_gqa_int8", "tflite_int8"):
        fp32 = rows[fp32_format(fmt)]
        assert rows[fmt]["size_bytes"] < 0.6 * fp32["size_bytes"]
        assert rows[fmt]["parity"]["rel_logit_error"] < 0.1
    for fmt in ("onnx_int8", "onnx_gqa_int8"):
        assert rows[fmt]["float_weight_ops"] == {}
    assert rows["onnx_gqa_int8"]["fused_ops"]["GroupQueryAttention"] == STUDENT["num_hidden_layers"]


@pytest.mark.parametrize("fmt, name, fp32", [
    ("onnx_fp32", "student.onnx", "onnx_fp32"), ("onnx_int8", "student.int8.onnx", "onnx_fp32"),
    ("onnx_int8_block", "student.int8-block.onnx", "onnx_fp32"), ("onnx_gqa_fp32", "student.gqa.onnx", "onnx_gqa_fp32"),
    ("onnx_gqa_int8", "student.gqa-int8.onnx", "onnx_gqa_fp32"),
    ("onnx_gqa_int8_block", "student.gqa-int8-block.onnx", "onnx_gqa_fp32"),
    ("onnx_gqa_int4", "student.gqa-int4.onnx", "onnx_gqa_fp32"), ("tflite_fp32", "student.tflite", "tflite_fp32"),
    ("tflite_int8", "student.int8.tflite", "tflite_fp32")])
def test_every_format_has_its_file_and_its_fp32_partner(fmt, name, fp32):
    from typing import get_args

    from edgekd.stages.lm_export import Format, file_name

    assert fmt in get_args(Format)  # a config may name it
    assert file_name(fmt) == name and fp32_format(fmt) == fp32


def test_decode_speed_of_teacher_and_student_in_every_format(distilled):
    _, result = distilled
    bench = result.artifacts["lm_bench"].metrics
    formats = {(row["model"], row["format"]) for row in bench["rows"]}
    assert formats == {("teacher", "pytorch"), ("student", "pytorch"), *(("student", fmt) for fmt in FORMATS)}
    for row in bench["rows"]:
        assert row["decode_tokens_per_s"] > 0 and row["ttft_ms"] > 0 and row["size_bytes"] > 0
        assert row["prompt_tokens"] == 16 and row["new_tokens"] == 8
        assert row["peak_rss_bytes"] > 50e6  # a process with torch loaded, measured on its own
    peaks = {row["format"]: row["peak_rss_bytes"] for row in bench["rows"] if row["model"] == "student"}
    assert peaks["tflite_int8"] < peaks["pytorch"]  # LiteRT alone, without torch's kernels
    assert bench["samples"]["teacher"] and bench["samples"]["prompt"]
    student = {row["format"]: row for row in bench["rows"] if row["model"] == "student"}
    for fmt, fp32 in (("onnx_int8", "onnx_fp32"), ("onnx_gqa_int8", "onnx_gqa_fp32"), ("tflite_int8", "tflite_fp32")):
        assert fp32_format(fmt) == fp32  # each int8 file is timed against its own route's fp32 file
        assert student[fmt]["decode_speedup_vs_fp32"] == pytest.approx(
            student[fmt]["decode_tokens_per_s"] / student[fp32]["decode_tokens_per_s"])


def test_every_exported_file_decodes_on_an_emulated_arm_core(distilled):
    from edgekd.runtimes.qemu_aarch64 import EmulatorUnavailable, check_available

    _, result = distilled
    rows = {row["format"]: row for row in result.artifacts["lm_bench"].metrics["emulated"]
            if row["model"] == "student"}
    assert set(rows) == {"pytorch", *FORMATS}
    assert rows["pytorch"]["status"] == "skipped" and "transformers" in rows["pytorch"]["reason"]
    try:
        check_available()
    except EmulatorUnavailable:
        assert all(row["status"] == "skipped" and "make arm-setup" in row["reason"]
                   for fmt, row in rows.items() if fmt != "pytorch")
        pytest.skip("aarch64 emulator not set up (make arm-setup)")
    for fmt in FORMATS:
        row = rows[fmt]
        assert row["status"] == "ok", row
        assert row["target"] == "qemu-aarch64-cortex-a53" and row["tokens_agree_with_x86"] == 4
        # A 64-wide student is too small for int8 to count fewer instructions than fp32 on an A53
        # (quantising the activations costs as much as it saves), so only the size of the cost is checked.
        assert row["prefill_instructions"] > row["instructions_per_token"] > 1e5, row


def test_a_rerun_reuses_every_artifact(distilled):
    folder, result = distilled
    again = run(_config(folder))
    assert all(outcome.reused for outcome in again.outcomes)
    assert again.artifacts["lm_distill"].id == result.artifacts["lm_distill"].id


def test_a_damaged_cache_is_refused_not_read(distilled, tmp_path):
    import shutil

    from edgekd.kd.shard_store import open_store

    _, result = distilled
    cache = result.artifacts["token_cache"]
    copy = tmp_path / "cache"
    shutil.copytree(cache.path, copy)
    shard = next(copy.glob("shard-00001.topk_ids.npy"))
    shard.write_bytes(shard.read_bytes()[:-8] + b"\x00" * 8)
    with pytest.raises(ArtifactError):
        open_store(copy, cache.metrics["key"], cache.metrics["chunks"])
    with pytest.raises(ArtifactError):
        open_store(cache.path, "another-key", cache.metrics["chunks"])


def test_a_student_with_another_vocabulary_is_refused_in_one_line(distilled):
    folder, _ = distilled  # the teacher and its cache are reused; the student is refused before training
    config = _config(folder, {"student": {**STUDENT, "vocab_size": 32000}})
    with pytest.raises(ConfigError, match="student.vocab_size 32000 differs from the teacher's 49152: "
                                          "token-level KD needs the same token ids") as error:
        run(config)
    assert "\n" not in str(error.value)


def test_lm_stages_on_image_data_are_one_line(tmp_path):
    config = parse_config({"name": "x", "artifacts_dir": str(tmp_path / "a"), "data": {"test_subset": 10},
                           "stages": [{"type": "lm_teacher", "model": SMOLLM2}]})
    with pytest.raises(ConfigError, match="language-model distillation needs `data: {type: tokens}`"):
        run(config)


def test_export_must_be_a_trained_method(tmp_path):
    with pytest.raises(ConfigError, match="export: 'gkd_jsd' is not one of the methods"):
        _config(tmp_path, {"export": "gkd_jsd"})
