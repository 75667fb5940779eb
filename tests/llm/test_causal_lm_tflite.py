"""A tiny random Llama through litert-torch's generative API: KV-cache TFLite vs PyTorch.

One fp32 and one dynamic-int8 conversion (~10 s of CPU each) shared by every test in the module.
"""

import pytest
import torch

from edgekd.errors import CheckpointError, ConfigError
from edgekd.quiet import transformers_quiet
from edgekd.export.causal_lm_tflite import (build_edge_model, check_parity_tflite, export_causal_lm_tflite,
                                            greedy_decode_tflite)

PROMPT = [7, 300, 12, 45, 9, 501, 88, 3, 260, 17]  # shorter than prefill_len: one padded prefill


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=True)
    model = LlamaForCausalLM(config).eval()
    # At init scale (std 0.02) the blocks barely move the residual stream, so the tied lm_head sees the
    # input token's own embedding and greedy repeats one token forever: "32 equal tokens" would test
    # nothing. Weights 8x larger let the blocks decide (~29 distinct tokens in 32 steps); the smallest
    # top-1/top-2 gap is then ~1e-3 of the largest logit, still ~1000x the fp32 export's 1e-6 error.
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if weight.dim() == 2 and "embed" not in name:
                weight.mul_(8)
    folder = tmp_path_factory.mktemp("tiny_llama")
    with transformers_quiet():
        model.save_pretrained(folder, safe_serialization=True)
    fp32 = export_causal_lm_tflite(folder, folder / "fp32.tflite", prefill_len=32, kv_cache_max_len=256)
    int8 = export_causal_lm_tflite(folder, folder / "int8.tflite", prefill_len=32, kv_cache_max_len=256,
                                   quantize="dynamic_int8")
    return model, folder, fp32, int8


def test_signatures_and_sizes(exported):
    _, _, fp32, int8 = exported
    assert fp32["signatures"] == int8["signatures"] == ["decode", "prefill_32"]
    # Only the weights shrink 4x; at this size the fp32 256 x 256 causal-mask constant is half the file.
    assert int8["size_bytes"] < fp32["size_bytes"]


# 1 token: no prefill; 10: one padded chunk; 32: a full chunk minus the last token; 45: two chunks.
@pytest.mark.parametrize("length", [1, 10, 32, 45])
def test_fp32_matches_pytorch(exported, length):
    model, _, fp32, _ = exported
    prompt = (PROMPT * 5)[:length]
    parity = check_parity_tflite(model, fp32["path"], prompt, steps=32)
    assert parity["first_token_mismatch"] is None and parity["tokens_agree"] == 32
    assert parity["rel_logit_error"] <= 1e-4


def test_int8_runs_with_bounded_error(exported):
    model, _, _, int8 = exported
    tokens, logits, timings = greedy_decode_tflite(int8["path"], PROMPT, 16)
    assert len(tokens) == 16 and logits.shape == (16, 512) and timings["decode_tokens_per_s"] > 0
    parity = check_parity_tflite(model, int8["path"], PROMPT, steps=32)
    # Teacher-forced, so comparable at every step even where int8 picks another token (measured: 7 %
    # of the largest logit, 29-32 of 32 steps agree).
    assert parity["rel_logit_error"] <= 0.15
    assert parity["tokens_agree"] >= 24


def test_prompt_past_the_cache_is_refused(exported):
    _, _, fp32, _ = exported
    with pytest.raises(ConfigError, match="kv_cache_max_len"):
        greedy_decode_tflite(fp32["path"], PROMPT * 25, 8)


def test_bad_inputs_are_user_errors(exported, tmp_path):
    _, folder, _, _ = exported
    with pytest.raises(ConfigError, match="quantize"):
        export_causal_lm_tflite(folder, tmp_path / "x.tflite", quantize="int4")
    with pytest.raises(CheckpointError, match="save_pretrained"):
        export_causal_lm_tflite(tmp_path, tmp_path / "x.tflite")


def test_untied_gqa_config_maps_without_converting(tmp_path):
    """The config and weight mapping alone, in PyTorch (no conversion): untied lm_head, one kv head
    for six query heads, a non-default RoPE base and RMSNorm epsilon."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(1)
    config = LlamaConfig(vocab_size=300, hidden_size=96, intermediate_size=160, num_hidden_layers=3,
                         num_attention_heads=6, num_key_value_heads=1, max_position_embeddings=128,
                         tie_word_embeddings=False, rms_norm_eps=1e-5,
                         rope_parameters={"rope_type": "default", "rope_theta": 100000.0})
    model = LlamaForCausalLM(config).eval()
    with transformers_quiet():
        model.save_pretrained(tmp_path, safe_serialization=True)
    edge = build_edge_model(tmp_path, kv_cache_max_len=64)
    # Imported after build_edge_model, which makes the generative API importable without TensorFlow.
    from litert_torch.generative.layers.kv_cache import KVCache
    from litert_torch.generative.utilities.export_config import ExportConfig

    ids = torch.randint(0, 300, (1, 20))
    with torch.inference_mode():
        want = model(input_ids=ids).logits
        got = edge(ids.int(), torch.arange(20, dtype=torch.int), KVCache.from_model_config(64, edge.config),
                   export_config=ExportConfig(output_logits_on_prefill=True))["logits"]
    assert (got - want).abs().max() <= 1e-5 * want.abs().max()
