"""ONNX Runtime GenAI's model builder on a tiny random Llama: fused decoder ops, one self-contained
file, the cache named its way, and greedy decoding against PyTorch. Random-weight logits are small
and nearly flat (TOOLCHAIN.md): int8 is bounded by its logit error, not by its tokens."""

import numpy as np
import pytest

from edgekd.errors import ArtifactError
from edgekd.export import causal_lm_genai
from edgekd.export.causal_lm_genai import export_causal_lm_genai
from edgekd.export.causal_lm_onnx import check_parity, greedy_decode_onnx
from tests.llm.conftest import HEAD_DIM, KV_HEADS, LAYERS, SMOLLM2, VOCAB, tiny_llama

pytestmark = pytest.mark.skipif(not causal_lm_genai.builder_available(), reason="onnxruntime-genai not installed")



@pytest.fixture(scope="module")
def model():
    return tiny_llama()


@pytest.fixture(scope="module")
def tokenizer():
    from edgekd.text.tokenizer import load_tokenizer

    return load_tokenizer(SMOLLM2)


@pytest.fixture(scope="module")
def built(model, tokenizer, tmp_path_factory):
    folder = tmp_path_factory.mktemp("genai")
    fp32 = folder / "model.fp32.onnx"  # built first: `int8` quantises this file
    return {precision: (folder / f"model.{precision}.onnx",
                        export_causal_lm_genai(model, tokenizer, folder / f"model.{precision}.onnx", precision,
                                               fp32_file=fp32))
            for precision in ("fp32", "int8", "int8_block", "int4")}


@pytest.fixture(scope="module")
def prompt():
    return np.random.default_rng(0).integers(0, VOCAB, size=16).tolist()


def test_one_file_with_fused_attention_and_the_builders_cache_names(built):
    import onnx

    path, info = built["fp32"]
    assert sorted(p.name for p in path.parent.iterdir()) == [f"model.{p}.onnx" for p in ("fp32", "int4", "int8", "int8_block")]
    graph = onnx.load(str(path), load_external_data=False).graph
    names = [i.name for i in graph.input]
    assert names[:2] == ["input_ids", "attention_mask"] and "position_ids" not in names
    assert {f"past_key_values.{i}.{kind}" for i in range(LAYERS) for kind in ("key", "value")} == set(names[2:])
    dims = [d.dim_param or d.dim_value for d in graph.input[2].type.tensor_type.shape.dim]
    assert dims[1:] == [KV_HEADS, "past_sequence_length", HEAD_DIM]  # the head size written in
    assert info["fused_ops"]["GroupQueryAttention"] == LAYERS and info["builder"].startswith("onnxruntime-genai ")


def test_fp32_decodes_as_pytorch_does(model, built, prompt):
    parity = check_parity(model, built["fp32"][0], prompt, 16)
    assert parity["rel_logit_error"] <= 1e-5 and parity["first_token_mismatch"] is None


def test_int8_is_the_fused_fp32_graph_through_dynamic_int8(model, built, prompt):
    import onnx

    path, info = built["int8"]
    assert info["fused_ops"]["GroupQueryAttention"] == LAYERS and "MatMulNBits" not in info["fused_ops"]
    ops = [node.op_type for node in onnx.load(str(path), load_external_data=False).graph.node]
    assert ops.count("MatMulInteger") == 5 * LAYERS + 1  # packed QKV, o, gate, up, down; the lm_head
    assert "MatMul" not in ops  # the embedding is int8 too (float_weight_ops below)
    assert info["float_weight_ops"] == {}
    assert path.stat().st_size < 0.5 * built["fp32"][0].stat().st_size  # the fold unties two int8 tables
    assert check_parity(model, path, prompt, 16)["rel_logit_error"] < 0.1


def test_the_same_int8_without_an_fp32_file_builds_its_own(model, tokenizer, built, tmp_path):
    import onnx

    path = tmp_path / "m.onnx"
    export_causal_lm_genai(model, tokenizer, path, "int8")
    assert list(tmp_path.iterdir()) == [path]  # the fp32 graph it quantised stayed in the scratch folder
    ours, theirs = (onnx.load(str(p)).graph for p in (path, built["int8"][0]))
    assert [n.op_type for n in ours.node] == [n.op_type for n in theirs.node]


def test_int8_block_is_matmulnbits_beside_a_float_embedding(model, built, prompt):
    path, info = built["int8_block"]
    assert info["fused_ops"]["MatMulNBits"] == 5 * LAYERS + 1  # packed QKV, o, gate, up, down; the lm_head
    assert info["float_weight_ops"] == {"Gather": 1}  # the builder keeps the embedding float in int8
    assert path.stat().st_size < 0.7 * built["fp32"][0].stat().st_size
    assert check_parity(model, path, prompt, 16)["rel_logit_error"] < 0.05


def test_int4_shares_one_4bit_table_between_embedding_and_lm_head(model, built, prompt):
    path, info = built["int4"]
    assert info["fused_ops"]["GatherBlockQuantized"] == 1 and info["fused_ops"]["MatMulNBits"] == 5 * LAYERS + 1
    assert info["float_weight_ops"] == {}
    assert path.stat().st_size < 0.5 * built["int8_block"][0].stat().st_size
    assert check_parity(model, path, prompt, 16)["rel_logit_error"] < 0.2


def test_greedy_decoding_reports_prefill_and_decode(built, prompt):
    tokens, logits, timings = greedy_decode_onnx(built["int8"][0], prompt, 4)
    assert len(tokens) == 4 and logits.shape == (4, VOCAB)
    assert timings["ttft_ms"] > 0 and timings["decode_tokens_per_s"] > 0


def test_a_model_the_builder_does_not_know_is_one_line(tokenizer, tmp_path):
    from transformers import BertConfig, BertForMaskedLM

    bert = BertForMaskedLM(BertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                      intermediate_size=64))
    with pytest.raises(ArtifactError, match="builder failed") as caught:
        export_causal_lm_genai(bert, tokenizer, tmp_path / "bert.onnx", "fp32")
    assert "\n" not in str(caught.value) and not (tmp_path / "bert.onnx").exists()
    assert list(tmp_path.iterdir()) == []  # the scratch folder went with it


def test_without_the_builder_installed_it_says_what_to_install(model, tokenizer, tmp_path, monkeypatch):
    monkeypatch.setattr(causal_lm_genai, "builder_available", lambda: False)
    with pytest.raises(ArtifactError, match="pip install onnxruntime-genai"):
        export_causal_lm_genai(model, tokenizer, tmp_path / "m.onnx", "int8")
