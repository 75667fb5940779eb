"""A Hugging Face causal LM (Llama-style) to one ONNX graph with a KV cache, int8, and greedy decoding.

The graph takes `input_ids`, `attention_mask` (past + new tokens), `position_ids` and the cache as flat
`past.{i}.key` / `past.{i}.value` inputs ([batch, kv_heads, past_len, head_dim]) and returns `logits`
and `present.{i}.key` / `present.{i}.value`. The same graph runs prefill (past_len 0) and decode (one
new token), so an app ships one file. `greedy_decode_onnx` also runs the files of
`causal_lm_genai` (ONNX Runtime GenAI's builder): `past_key_values.{i}.*` inputs and no `position_ids`.

Why it is traced the way it is (TOOLCHAIN.md, "ONNX with a KV cache"): `torch.export` specialises
sizes 0 and 1 to constants, so the example has batch 2, 2 new tokens and 3 cached ones; the traced
graph still runs with past_len 0 and one token, because the exporter reasons about sizes without
assuming 0/1. A 1-token example is refused ("specialized it to be a constant (1)"). With the mask
an input, the causal mask is built in the graph (transformers skips SDPA's `is_causal` shortcut while
exporting); SDPA and eager attention both trace this way, and the tied embedding stays one initializer.
"""

from __future__ import annotations

import contextlib
import re
import time
from pathlib import Path

import numpy as np

from edgekd.errors import ArtifactError
from edgekd.export.onnx_export import _quiet

# Cache input names: this module's export (`past.0.key`) and ONNX Runtime GenAI's builder's.
PAST_PREFIXES = ("past.", "past_key_values.")
# Symbolic dims of the example that get readable names in the file, in this order.
DIM_NAMES = ("batch", "seq", "past_len", "total_len")


def kv_names(prefix: str, num_layers: int) -> list[str]:
    return [f"{prefix}.{i}.{kind}" for i in range(num_layers) for kind in ("key", "value")]


def _cache_shape(config) -> tuple[int, int, int]:
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return config.num_hidden_layers, getattr(config, "num_key_value_heads", None) or heads, head_dim


def _flat_cache_module(model):
    """`forward(input_ids, attention_mask, position_ids, *past)` -> (logits, *present): the model with
    its `DynamicCache` built from, and flattened back to, plain tensors the exporter can name."""
    import torch
    from transformers import DynamicCache

    class FlatCacheLM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, position_ids, *past):
            cache = DynamicCache(list(zip(past[0::2], past[1::2])))
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                             past_key_values=cache, use_cache=True)
            present = [t for layer in out.past_key_values.layers for t in (layer.keys, layer.values)]
            return (out.logits, *present)

    return FlatCacheLM().eval()


def export_causal_lm(model, path: Path, *, opset: int = 18) -> None:
    """Write `model` (a transformers causal LM, SDPA or eager attention) to `path`, one self-contained file.
    `attention_mask` must cover past and new tokens (length past_len + seq)."""
    import torch
    from torch.export import Dim

    layers, kv_heads, head_dim = _cache_shape(model.config)
    batch, seq, past_len = 2, 2, 3  # none of them 0 or 1, else torch.export fixes it (module docstring)
    args = (torch.zeros(batch, seq, dtype=torch.long), torch.ones(batch, past_len + seq, dtype=torch.long),
            torch.arange(past_len, past_len + seq).repeat(batch, 1),
            *[torch.zeros(batch, kv_heads, past_len, head_dim) for _ in range(2 * layers)])
    b, s, p = Dim("batch"), Dim("seq"), Dim("past_len", min=0)
    # The mask's length is past_len + seq, which a Dim cannot say; DYNAMIC lets export find its range.
    shapes = ({0: b, 1: s}, {0: b, 1: Dim.DYNAMIC}, {0: b, 1: s}, tuple({0: b, 2: p} for _ in range(2 * layers)))
    with torch.no_grad():
        program = torch.export.export(_flat_cache_module(model), args, dynamic_shapes=shapes, strict=False)
    with _quiet():
        torch.onnx.export(program, (), str(path), dynamo=True, opset_version=opset, external_data=False,
                          input_names=["input_ids", "attention_mask", "position_ids", *kv_names("past", layers)],
                          output_names=["logits", *kv_names("present", layers)], verbose=False)
    _name_dims(Path(path))


def _name_dims(path: Path) -> None:
    """The exporter calls dims `s10`, `s15 + s70`; the file says `batch`, `past_len + seq`."""
    import onnx

    model = onnx.load(str(path))
    inputs = {i.name: [d.dim_param for d in i.type.tensor_type.shape.dim] for i in model.graph.input}
    found = (inputs["input_ids"][0], inputs["input_ids"][1], inputs["past.0.key"][2], inputs["attention_mask"][1])
    rename = {sym: name for sym, name in zip(found, DIM_NAMES) if sym}
    if not rename:
        return
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, rename)) + r")\b")
    for value in [*model.graph.input, *model.graph.output, *model.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param:
                dim.dim_param = pattern.sub(lambda m: rename[m.group(1)], dim.dim_param)
    onnx.save(model, str(path))


def quantize_causal_lm(src: Path, dst: Path, op_types: tuple[str, ...] = ("MatMul", "Gather")) -> dict[str, int]:
    """ORT dynamic int8 (QInt8 weights, activations quantised at run time) of an exported causal LM.
    `quant_pre_process` comes first: it folds the Transpose in front of the tied lm_head into a
    constant, which is what lets the lm_head MatMul be quantised (without it the 49k-wide head stays
    float and decode is ~10x slower). That fold un-ties the embedding, so the Gather is quantised too:
    with MatMul alone a 16M-param, 49k-vocab student's file grew from 66.8 to 66.9 MB (a float
    embedding beside an int8 lm_head); with Gather it is 29.2 MB, at the same decode speed.
    Returns the op types still holding float weights, with counts ({} when all are int8)."""
    from edgekd.export.onnx_export import quantize_dynamic_file

    quantize_dynamic_file(Path(src), Path(dst), op_types)
    return float_weight_ops(dst)


def quantize_causal_lm_blockwise(src: Path, dst: Path, block_size: int = 32) -> dict[str, int]:
    """int8 for models whose activations defeat `quantize_causal_lm`: SmolLM2-135M's tokens part at
    step 2 there (benchmarks/README.md), because one scale per activation tensor cannot hold its
    outliers. Here every MatMul becomes ORT's `MatMulNBits` with 8-bit weights in blocks of
    `block_size` along K, and its activations are quantised per block at run time (accuracy_level 4,
    int8 compute), so an outlier costs one block its resolution, not the whole tensor. The embedding's
    Gather is then stored int8 as in `quantize_causal_lm` (MatMulNBits does not take a Gather). On
    SmolLM2-135M this cuts the logit error from 0.66 to 0.066 of the largest logit; the int8 embedding
    is most of what is left (0.041 with it float). Decoding wants dot-product cores: an emulated
    Cortex-A53 runs it at 31x the instructions of `quantize_causal_lm`. Returns the op types still
    holding float weights."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import DefaultWeightOnlyQuantConfig, MatMulNBitsQuantizer
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from edgekd.export.onnx_export import _quiet

    src, dst = Path(src), Path(dst)
    prepared, blockwise = dst.with_suffix(".pre.onnx"), dst.with_suffix(".nbits.onnx")
    try:
        with _quiet():
            quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True)  # unties the lm_head (above)
            settings = {"bits": 8, "block_size": block_size, "is_symmetric": True, "accuracy_level": 4,
                        "op_types_to_quantize": ("MatMul",), "quant_axes": (("MatMul", 0),)}
            quantizer = MatMulNBitsQuantizer(onnx.load(str(prepared)), **settings,
                                             algo_config=DefaultWeightOnlyQuantConfig(**settings))
            quantizer.process()
            quantizer.model.save_model_to_file(str(blockwise), use_external_data_format=False)
        quantize_embedding(blockwise, dst)
    finally:
        prepared.unlink(missing_ok=True)
        blockwise.unlink(missing_ok=True)
    return float_weight_ops(dst)


def quantize_embedding(src: Path, dst: Path) -> None:
    """`src` with its embedding table (the Gather's weight) stored int8, one scale per tensor (ORT
    dynamic quantisation of Gather only): a 49k-vocab embedding is most of a small LM's bytes, and
    the files whose MatMuls are already `MatMulNBits` keep it float otherwise."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from edgekd.export.onnx_export import _quiet

    with _quiet():
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=False,
                         op_types_to_quantize=["Gather"])


PACKED_WEIGHT_OPS = ("MatMulNBits", "GatherBlockQuantized", "GroupQueryAttention")  # float_weight_ops skips them


def float_weight_ops(path: Path) -> dict[str, int]:
    """Nodes that take a float matrix initializer (a weight, not a bias or a scale), by op type.
    MatMulNBits and GatherBlockQuantized hold their weights as packed integers; their float inputs
    are the per-block scales. GroupQueryAttention's float matrices are its rotary cos/sin tables."""
    import onnx

    graph = onnx.load(str(path)).graph
    weights = {i.name for i in graph.initializer if i.data_type == onnx.TensorProto.FLOAT and len(i.dims) >= 2}
    counts: dict[str, int] = {}
    for node in graph.node:
        if node.op_type not in PACKED_WEIGHT_OPS and weights.intersection(node.input):
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def _prompt(prompt_ids) -> np.ndarray:
    ids = np.asarray(prompt_ids, dtype=np.int64).reshape(1, -1)  # batch 1: the phone's case
    if ids.size == 0:
        raise ValueError("greedy decoding needs a prompt of at least one token")
    return ids


def greedy_decode_onnx(path: Path, prompt_ids, new_tokens: int, threads: int = 1, around_step=None,
                       profile_prefix: str | None = None):
    """Greedy decoding at batch 1 in ONNX Runtime on CPU: one prefill run, then one run per token.
    Returns (tokens, logits [new_tokens, vocab] that chose them, timings): `ttft_ms` is the prefill,
    `decode_tokens_per_s` the new_tokens - 1 runs after it. `around_step(step)`, if given, is a
    context manager around each run (step 0 the prefill): the emulated ARM guest counts inside it.
    With `profile_prefix`, ORT's profiler records every node and timings["profile"] names its JSON
    file (the profiler itself slows the run: read its shares, not its speed)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.log_severity_level = 3
    if profile_prefix:
        options.enable_profiling, options.profile_file_prefix = True, profile_prefix
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    inputs = {i.name for i in session.get_inputs()}
    past_inputs = [i for i in session.get_inputs() if i.name.startswith(PAST_PREFIXES)]
    if not past_inputs:
        raise ArtifactError(f"{Path(path).name}: has no `past.*` inputs, so it is not a KV-cache causal LM export")
    past_prefix = next(p for p in PAST_PREFIXES if past_inputs[0].name.startswith(p))
    if not all(isinstance(i.shape[1], int) and isinstance(i.shape[3], int) for i in past_inputs):
        raise ArtifactError(f"{Path(path).name}: its cache inputs have symbolic heads or head size "
                            f"({past_inputs[0].shape}); this decoder needs them fixed in the file")
    ids = _prompt(prompt_ids)
    past = {i.name: np.zeros((1, i.shape[1], 0, i.shape[3]), np.float32) for i in past_inputs}
    present_names = [o.name for o in session.get_outputs()[1:]]
    tokens, rows, step_s = [], [], []
    length = ids.shape[1]
    positions = np.arange(length, dtype=np.int64)[None]
    around_step = around_step or (lambda step: contextlib.nullcontext())
    for step in range(new_tokens):
        feed = {"input_ids": ids, "attention_mask": np.ones((1, _past_length(past) + ids.shape[1]), np.int64), **past}
        if "position_ids" in inputs:  # the builder's files derive positions from the mask
            feed["position_ids"] = positions
        start = time.perf_counter()
        with around_step(step):
            logits, *present = session.run(None, feed)
        step_s.append(time.perf_counter() - start)
        rows.append(logits[0, -1])
        tokens.append(int(rows[-1].argmax()))
        past = {past_prefix + name.removeprefix("present."): value for name, value in zip(present_names, present)}
        ids, positions = np.array([[tokens[-1]]], np.int64), np.array([[length]], np.int64)
        length += 1
    timings = _timings(step_s) | ({"profile": session.end_profiling()} if profile_prefix else {})
    return tokens, np.stack(rows) if rows else np.zeros((0, 0), np.float32), timings


def _past_length(past: dict[str, np.ndarray]) -> int:
    return next(iter(past.values())).shape[2]


def greedy_decode_torch(model, prompt_ids, new_tokens: int):
    """The PyTorch reference for `greedy_decode_onnx`, with the model's own KV cache; same returns."""
    import torch

    ids = torch.from_numpy(_prompt(prompt_ids))
    tokens, rows, step_s, cache = [], [], [], None
    with torch.inference_mode():
        for _ in range(new_tokens):
            start = time.perf_counter()
            out = model(input_ids=ids, past_key_values=cache, use_cache=True)
            step_s.append(time.perf_counter() - start)
            cache = out.past_key_values
            rows.append(out.logits[0, -1].float().numpy())
            tokens.append(int(rows[-1].argmax()))
            ids = torch.tensor([[tokens[-1]]])
    return tokens, np.stack(rows) if rows else np.zeros((0, 0), np.float32), _timings(step_s)


def _timings(step_s: list[float]) -> dict[str, float]:
    decode = sum(step_s[1:])
    return {"ttft_ms": 1000 * step_s[0] if step_s else 0.0,
            "decode_tokens_per_s": (len(step_s) - 1) / decode if decode > 0 else 0.0}


def check_parity(model, path: Path, prompt_ids, steps: int = 32) -> dict:
    """ONNX vs PyTorch over the prompt and `steps` greedy tokens. Logits are compared up to and
    including the first step where the tokens differ: after it the two continue different texts.
    `rel_logit_error` is the max difference over the largest logit, so it reads the same for any
    model (random-weight logits are small and nearly flat: an absolute tolerance would mislead)."""
    ref_tokens, ref_logits, _ = greedy_decode_torch(model, prompt_ids, steps)
    tokens, logits, _ = greedy_decode_onnx(path, prompt_ids, steps)
    differ = [i for i, (a, b) in enumerate(zip(ref_tokens, tokens)) if a != b]
    first = differ[0] if differ else None
    compared = steps if first is None else first + 1
    max_diff = float(np.abs(ref_logits[:compared] - logits[:compared]).max()) if compared else 0.0
    scale = float(np.abs(ref_logits[:compared]).max()) if compared else 0.0
    return {"max_abs_logit_diff": max_diff, "max_abs_logit": scale,
            "rel_logit_error": max_diff / scale if scale else 0.0, "first_token_mismatch": first,
            "tokens_agree": steps - len(differ), "steps_compared": compared}
