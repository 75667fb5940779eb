"""KV-cache ONNX export of a tiny random Llama: one graph for prefill and decode, against PyTorch.

Random-weight logits are small and nearly flat (TOOLCHAIN.md), so int8 greedy tokens may part from
fp32 on a near-tie: the int8 test bounds the logit error against the logit range instead."""

import numpy as np
import pytest
import torch

from edgekd.errors import ArtifactError
from edgekd.export.causal_lm_onnx import (_flat_cache_module, check_parity, export_causal_lm, greedy_decode_onnx,
                                         kv_names, quantize_causal_lm, quantize_causal_lm_blockwise)
from tests.llm.conftest import HEAD_DIM, KV_HEADS, LAYERS, VOCAB, tiny_llama



@pytest.fixture(scope="module")
def model():
    return tiny_llama()


@pytest.fixture(scope="module")
def fp32_path(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("llm") / "model.onnx"
    export_causal_lm(model, path)
    return path


@pytest.fixture(scope="module")
def prompt():
    return np.random.default_rng(0).integers(0, VOCAB, size=16).tolist()


def _session(path):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _real_positions(cache, mask):
    """[batch, heads, kv, dim] -> the cached vectors of real (unpadded) tokens."""
    return cache.transpose(0, 2, 1, 3)[mask.astype(bool)]


def test_file_names_the_cache_and_stores_the_tied_embedding_once(fp32_path):
    import onnx

    graph = onnx.load(str(fp32_path)).graph
    assert [i.name for i in graph.input] == ["input_ids", "attention_mask", "position_ids", *kv_names("past", LAYERS)]
    assert [o.name for o in graph.output] == ["logits", *kv_names("present", LAYERS)]
    dims = [d.dim_param or d.dim_value for d in graph.input[3].type.tensor_type.shape.dim]
    assert dims == ["batch", KV_HEADS, "past_len", HEAD_DIM]
    assert sum(list(i.dims) == [VOCAB, 64] for i in graph.initializer) == 1


def test_fp32_greedy_decoding_matches_torch_for_32_steps(model, fp32_path, prompt):
    result = check_parity(model, fp32_path, prompt, steps=32)
    assert result["first_token_mismatch"] is None and result["tokens_agree"] == 32
    assert result["rel_logit_error"] <= 1e-4


def test_prefill_then_decode_equals_one_full_forward(model, fp32_path, prompt):
    tokens, logits, timings = greedy_decode_onnx(fp32_path, prompt, 8)
    with torch.no_grad():
        full = model(torch.tensor([prompt + tokens[:-1]])).logits[0, len(prompt) - 1:].numpy()
    assert logits.shape == (8, VOCAB)
    np.testing.assert_allclose(logits, full, atol=1e-4 * np.abs(full).max())
    assert timings["ttft_ms"] > 0 and timings["decode_tokens_per_s"] > 0


def test_graph_takes_a_padded_batch_with_and_without_past(model, fp32_path):
    """Batch 2, a left-padded row, past_len 0 then 3 new tokens on top: the mask is honoured, not fixed.
    Outputs at padded positions are left out: a padded query attends to nothing, and torch and the
    exported SDPA decomposition fill that row differently; no real token ever reads it."""
    session, flat = _session(fp32_path), _flat_cache_module(model)
    rng = np.random.default_rng(1)
    past = [np.zeros((2, KV_HEADS, 0, HEAD_DIM), np.float32) for _ in range(2 * LAYERS)]
    mask = np.ones((2, 5), np.int64)
    mask[1, :2] = 0
    for seq in (5, 3):
        ids = rng.integers(0, VOCAB, size=(2, seq))
        positions = np.maximum(np.cumsum(mask, axis=1) - 1, 0)[:, -seq:]
        inputs = [ids, mask, positions, *past]
        got = session.run(None, dict(zip([i.name for i in session.get_inputs()], inputs)))
        with torch.no_grad():
            want = [t.numpy() for t in flat(*map(torch.from_numpy, inputs))]
        real_queries = mask[:, -seq:].astype(bool)
        np.testing.assert_allclose(got[0][real_queries], want[0][real_queries], atol=1e-5)
        for g, w in zip(got[1:], want[1:]):
            np.testing.assert_allclose(_real_positions(g, mask), _real_positions(w, mask), atol=1e-5)
        past, mask = got[1:], np.concatenate([mask, np.ones((2, 3), np.int64)], axis=1)


def test_int8_runs_is_smaller_and_its_logit_error_is_bounded(model, fp32_path, prompt, tmp_path):
    int8_path = tmp_path / "model.int8.onnx"
    float_ops = quantize_causal_lm(fp32_path, int8_path)
    assert float_ops == {}  # the tied lm_head too, thanks to quant_pre_process, and the embedding
    assert int8_path.stat().st_size < 0.6 * fp32_path.stat().st_size
    result = check_parity(model, int8_path, prompt, steps=32)
    assert result["steps_compared"] >= 1 and result["rel_logit_error"] < 0.1  # 32 int8 steps ran


def test_block_int8_is_matmulnbits_with_an_int8_embedding(model, fp32_path, prompt, tmp_path):
    import onnx

    path = tmp_path / "model.int8-block.onnx"
    assert quantize_causal_lm_blockwise(fp32_path, path) == {}  # no float weight left, the embedding's neither
    ops = [node.op_type for node in onnx.load(str(path)).graph.node]
    assert ops.count("MatMulNBits") == 7 * LAYERS + 1  # q, k, v, o, gate, up, down; the lm_head
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # its intermediate files are gone
    assert path.stat().st_size < 0.6 * fp32_path.stat().st_size
    assert check_parity(model, path, prompt, steps=16)["rel_logit_error"] < 0.1


def test_a_file_without_a_cache_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    value = helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, 4])
    out = helper.make_tensor_value_info("logits", TensorProto.INT64, [1, 4])
    graph = helper.make_graph([helper.make_node("Identity", ["input_ids"], ["logits"])], "g", [value], [out])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(tmp_path / "plain.onnx"))
    with pytest.raises(ArtifactError, match="past"):
        greedy_decode_onnx(tmp_path / "plain.onnx", [1, 2], 2)
