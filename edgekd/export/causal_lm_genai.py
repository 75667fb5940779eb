"""A causal LM to ONNX through ONNX Runtime GenAI's model builder: fused decoder ops, fp32 or int8.

Why a second ONNX route beside `causal_lm_onnx`: the builder writes the graph ORT's CPU kernels are
tuned for, not a traced one. Attention is one `GroupQueryAttention` node per layer (rotary embedding
and the KV-cache append inside it), the norms are `SkipSimplifiedLayerNormalization`, Q/K/V are one
packed MatMul, and with `int8` every MatMul is `MatMulNBits` (8-bit weights in blocks of 32,
activations quantised per block at run time, int8 compute); the builder keeps the embedding float
(its quantised Gather is 4-bit only), so `quantize_embedding` stores it int8 afterwards. On the
16M-parameter SmolLM2 student the traced graph's int8 decodes ~2x its fp32; this one ~2.5-3x
(benchmarks/README.md).

The file takes `input_ids`, `attention_mask` (past + new tokens) and `past_key_values.{i}.key/value`
([batch, kv_heads, past_len, head_dim]); it has no `position_ids` input (GroupQueryAttention derives
positions from the mask). It returns `logits` and `present.{i}.key/value`. `greedy_decode_onnx`
reads both this naming and `causal_lm_onnx`'s.

The builder runs as a subprocess (`python -m onnxruntime_genai.models.builder`): it prints a lot and
keeps module-level state. It reads a Hugging Face folder with tokenizer files, so the model and its
tokenizer are saved to a scratch folder first. Its output (`model.onnx` plus external data) is
rewritten as one self-contained file, like every other export here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from edgekd.errors import ArtifactError
from edgekd.export.causal_lm_onnx import float_weight_ops, quantize_embedding

PRECISIONS = ("fp32", "int8")


def builder_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime_genai") is not None


def export_causal_lm_genai(model, tokenizer, path: Path, precision: str) -> dict:
    """Write `model` (a transformers causal LM the builder knows, e.g. Llama) to `path` with the
    builder at `precision` ('fp32' or 'int8'). Returns the builder's settings and the ops it wrote."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: one of {', '.join(PRECISIONS)}")
    if not builder_available():
        raise ArtifactError("onnxruntime-genai is not installed (pip install onnxruntime-genai; "
                            "requirements/constraints.txt pins it)")
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="edgekd-genai-", dir=path.parent) as scratch:
        source, built, cache = Path(scratch) / "hf", Path(scratch) / "onnx", Path(scratch) / "cache"
        model.save_pretrained(source, safe_serialization=True)
        tokenizer.save_pretrained(source)
        _run_builder(source, built, cache, precision)
        if precision == "fp32":
            _single_file(built / "model.onnx", path, _head_dim(model.config))
        else:  # the builder quantises no embedding to 8 bits (GatherBlockQuantized is 4-bit only)
            whole = Path(scratch) / "model.onnx"
            _single_file(built / "model.onnx", whole, _head_dim(model.config))
            quantize_embedding(whole, path)
    return {"builder": f"onnxruntime-genai {_builder_version()}", "fused_ops": fused_ops(path),
            "float_weight_ops": float_weight_ops(path)}


def _run_builder(source: Path, built: Path, cache: Path, precision: str) -> None:
    command = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(source), "-o", str(built),
               "-p", precision, "-e", "cpu", "-c", str(cache), "--extra_options", "hf_token=false"]
    # Offline: the builder must read the scratch folder only, never reach for a hub.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0 or not (built / "model.onnx").is_file():
        lines = [line for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        raise ArtifactError(f"onnxruntime-genai's builder failed (exit {done.returncode}): "
                            + (lines[-1].strip() if lines else "no output"))


def _single_file(built: Path, path: Path, head_dim: int) -> None:
    """The builder's `model.onnx` + `model.onnx.data` as one file (every model here is under 2 GB).
    The builder leaves the cache's last dim symbolic (`kv_cache_dim`); it is the head size, written
    in, so the file says what cache it takes as `causal_lm_onnx`'s files do."""
    import onnx

    model = onnx.load(str(built), load_external_data=True)
    for value in [*model.graph.input, *model.graph.output]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param == "kv_cache_dim":
                dim.dim_value = head_dim
    onnx.save(model, str(path), save_as_external_data=False)


def _head_dim(config) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def _builder_version() -> str:
    from importlib.metadata import version

    return version("onnxruntime-genai")


def fused_ops(path: Path) -> dict[str, int]:
    """Counts of the builder's fused op types in the file: what makes this route fast."""
    import onnx

    counts: dict[str, int] = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        if node.domain == "com.microsoft":
            counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return dict(sorted(counts.items()))
