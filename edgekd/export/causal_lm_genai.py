"""A causal LM to ONNX through ONNX Runtime GenAI's model builder: fused decoder ops, fp32, int8 or int4.

Why a second ONNX route beside `causal_lm_onnx`: the builder writes the graph ORT's CPU kernels are
tuned for, not a traced one. Attention is one `GroupQueryAttention` node per layer (rotary embedding
and the KV-cache append inside it), the norms are `SkipSimplifiedLayerNormalization`, Q/K/V are one
packed MatMul: a decode step of the 16M SmolLM2 student is 49 nodes, against 326 traced.

Three integer precisions, because which one wins depends on the model and the CPU:
- `int8`: the builder's fp32 graph, then ORT's dynamic int8 (`causal_lm_onnx.quantize_causal_lm`:
  MatMulInteger, one activation scale per tensor, and the embedding int8 too). On the AVX2-only x86
  here its MatMuls ran faster than MatMulNBits' int8 kernels, in less than half the bytes, and the
  16M student kept its greedy tokens (benchmarks/README.md). One scale per tensor cannot hold
  SmolLM2-135M's activation outliers: its tokens part at once, as in `onnx_int8`.
- `int8_block`: the builder's own int8, `MatMulNBits` on every MatMul (8-bit weights in blocks of
  32, activations quantised per block at run time, int8 compute). It kept SmolLM2-135M's greedy
  tokens for 32 steps; it keeps the embedding float (its quantised Gather is 4-bit only).
- `int4`: 4-bit `MatMulNBits`; the embedding and the lm_head share one 4-bit table.

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
from edgekd.export.causal_lm_onnx import _cache_shape, float_weight_ops

PRECISIONS = ("fp32", "int8", "int8_block", "int4")
BUILDER_PRECISION = {"int8_block": "int8"}  # the builder's name for it; `int8` is fp32 + ORT dynamic int8


def builder_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime_genai") is not None


def export_causal_lm_genai(model, tokenizer, path: Path, precision: str, fp32_file: Path | None = None) -> dict:
    """Write `model` (a transformers causal LM the builder knows, e.g. Llama) to `path` at
    `precision`, one of PRECISIONS (module docstring). `int8` quantises the builder's fp32 graph:
    `fp32_file` when it exists (the `fp32` export of the same model), else one built for it.
    Returns the builder's version, the fused ops in the file and the ops still holding float weights."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: one of {', '.join(PRECISIONS)}")
    if not builder_available():
        raise ArtifactError("onnxruntime-genai is not installed (pip install onnxruntime-genai; "
                            "requirements/constraints.txt pins it)")
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="edgekd-genai-", dir=path.parent) as scratch:
        if precision == "int8":
            from edgekd.export.causal_lm_onnx import quantize_causal_lm

            if fp32_file is None or not Path(fp32_file).is_file():
                fp32_file = Path(scratch) / "fp32.onnx"
                _build(model, tokenizer, Path(scratch) / "fp32", fp32_file, "fp32")
            quantize_causal_lm(Path(fp32_file), path)
        else:
            _build(model, tokenizer, Path(scratch), path, BUILDER_PRECISION.get(precision, precision))
    return {"builder": f"onnxruntime-genai {_builder_version()}", "fused_ops": fused_ops(path),
            "float_weight_ops": float_weight_ops(path)}


def _build(model, tokenizer, scratch: Path, path: Path, precision: str) -> None:
    source, built, cache = scratch / "hf", scratch / "onnx", scratch / "cache"
    _save_folder(model, tokenizer, source)
    _run_builder(source, built, cache, precision)
    _single_file(built / "model.onnx", path, _cache_shape(model.config)[2])


def _save_folder(model, tokenizer, folder: Path) -> None:
    """The model as a safetensors Hugging Face folder with its tokenizer. A model transformers loaded
    from GGUF refuses `save_pretrained` (it counts as quantised, though its weights are dequantised
    fp32), so its config and weights are written directly; `save_model` stores a tied table once.
    That config names no architecture, which the builder dispatches on, and carries the GGUF
    `quantization_config`, which no longer describes the weights: the class is named, the other dropped."""
    import copy

    from safetensors.torch import save_model

    folder.mkdir(parents=True)
    if getattr(model, "hf_quantizer", None) is None:
        model.save_pretrained(folder, safe_serialization=True)
    else:
        config = copy.deepcopy(model.config)
        config.architectures = [type(model).__name__]
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        config.save_pretrained(folder)
        save_model(model, str(folder / "model.safetensors"), metadata={"format": "pt"})
    tokenizer.save_pretrained(folder)


def _run_builder(source: Path, built: Path, cache: Path, precision: str) -> None:
    command = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(source), "-o", str(built),
               "-p", precision, "-e", "cpu", "-c", str(cache), "--extra_options", "hf_token=false"]
    # Offline: the builder must read the scratch folder only, never reach for a hub.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0 or not (built / "model.onnx").is_file():
        # The traceback's last line goes to stderr; stdout ends with the builder's progress lines.
        lines = [line for line in (done.stderr.splitlines() or done.stdout.splitlines()) if line.strip()]
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
