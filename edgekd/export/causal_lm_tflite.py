"""A Hugging Face Llama causal LM -> TFLite with a KV cache, greedy decoding in LiteRT, and its parity.

Plain `litert_torch.convert` traces one fixed-length forward with no cache (21 tok/s on the student,
TOOLCHAIN.md), so the model is re-authored with litert-torch's generative API instead: its
`DecoderOnlyModel` built from an edge `ModelConfig` mapped from the folder's `config.json`, the
weights read from the folder's safetensors. The file gets two signatures, `prefill_<P>` (P tokens,
no logits) and `decode` (one token, logits); both take `tokens` and `input_pos` (int32) and the
cache as `kv_cache_{k,v}_<layer>` tensors that they return updated.

Decoding follows LiteRT's own text-generator runner: the prompt minus its last token is prefilled
in chunks of P, zero-padded, with `input_pos` counting on through the padding (the padded slots are
written past the real text, masked as future positions, and overwritten by later tokens); then the
last prompt token goes through `decode`, so its logits are the first prediction.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import shutil
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

from edgekd.errors import ArtifactError, CheckpointError, ConfigError

QUANTIZE = ("none", "dynamic_int8")
XNNPACK_NOTICE = ("INFO: Created TensorFlow Lite XNNPACK delegate",)
_SCHEMA = "tensorflow.lite.python.schema_py_generated"
_LORA = "litert_torch.generative.layers.lora"  # the one module that wants it


@contextlib.contextmanager
def _generative_api():
    """Import litert-torch's generative API without TensorFlow. Only `generative/layers/lora.py` wants
    TensorFlow, for its flatbuffer schema, which `ai_edge_litert` ships as the same module; stand-in
    `tensorflow` packages exist only during the import, so nothing else later mistakes them for TF."""
    from edgekd.quiet import quiet_third_party

    quiet_third_party()
    added = {}
    if _LORA not in sys.modules and "tensorflow" not in sys.modules and importlib.util.find_spec("tensorflow") is None:
        from ai_edge_litert import schema_py_generated

        added = {name: types.ModuleType(name) for name in ("tensorflow", "tensorflow.lite", "tensorflow.lite.python")}
        added["tensorflow.lite.python"].schema_py_generated = schema_py_generated
        added[_SCHEMA] = schema_py_generated
        sys.modules.update(added)
    try:
        importlib.import_module(_LORA)  # binds the schema now
        yield
    finally:
        for name in added:
            sys.modules.pop(name, None)


def edge_config(hf_config, kv_cache_max_len: int):
    """The generative API's `ModelConfig` for a Llama config: GQA as query groups, RoPE theta, RMSNorm
    epsilon and tied embeddings carried over; what the edge layers cannot express is refused."""
    import litert_torch.generative.layers.model_config as cfg

    if getattr(hf_config, "model_type", None) != "llama":
        raise CheckpointError(f"model_type {getattr(hf_config, 'model_type', None)!r}: only Llama exports here")
    rope = getattr(hf_config, "rope_parameters", None) or {}
    if rope.get("rope_type", "default") != "default":
        raise CheckpointError(f"rope_type {rope.get('rope_type')!r}: only plain RoPE exports to TFLite here")
    if hf_config.hidden_act != "silu":
        raise CheckpointError(f"hidden_act {hf_config.hidden_act!r}: only silu exports to TFLite here")
    if kv_cache_max_len > hf_config.max_position_embeddings:
        raise ConfigError(f"kv_cache_max_len {kv_cache_max_len} exceeds the model's "
                          f"max_position_embeddings {hf_config.max_position_embeddings}")
    head_dim = getattr(hf_config, "head_dim", None) or hf_config.hidden_size // hf_config.num_attention_heads
    norm = cfg.NormalizationConfig(type=cfg.NormalizationType.RMS_NORM, epsilon=hf_config.rms_norm_eps)
    attn = cfg.AttentionConfig(
        num_heads=hf_config.num_attention_heads, head_dim=head_dim,
        num_query_groups=hf_config.num_key_value_heads, rotary_base=rope.get("rope_theta", 10000.0),
        rotary_percentage=1.0, qkv_use_bias=hf_config.attention_bias,
        output_proj_use_bias=hf_config.attention_bias)
    ff = cfg.FeedForwardConfig(type=cfg.FeedForwardType.GATED,
                               activation=cfg.ActivationConfig(cfg.ActivationType.SILU),
                               intermediate_size=hf_config.intermediate_size, use_bias=hf_config.mlp_bias)
    block = cfg.TransformerBlockConfig(attn_config=attn, ff_config=ff, pre_attention_norm_config=norm,
                                       post_attention_norm_config=norm)
    return cfg.ModelConfig(vocab_size=hf_config.vocab_size, num_layers=hf_config.num_hidden_layers,
                           max_seq_len=kv_cache_max_len, embedding_dim=hf_config.hidden_size,
                           block_configs=block, final_norm_config=norm,
                           lm_head_share_weight_with_embedding=bool(hf_config.tie_word_embeddings))


def build_edge_model(folder, kv_cache_max_len: int):
    """The re-authored model with the folder's weights. The library loads tied models non-strictly, so
    a misnamed tensor would stay at its random init: every key but a tied `lm_head` must be filled."""
    from transformers import AutoConfig

    from edgekd.quiet import transformers_quiet

    folder = Path(folder)
    if not (folder / "config.json").is_file() or not list(folder.glob("*.safetensors")):
        raise CheckpointError(f"{folder}: not a save_pretrained folder (config.json + *.safetensors)")
    with transformers_quiet():
        hf_config = AutoConfig.from_pretrained(folder)
    with _generative_api():
        from litert_torch.generative.utilities import loader, model_builder

        config = edge_config(hf_config, kv_cache_max_len)
    tied = config.lm_head_share_weight_with_embedding
    names = model_builder.TENSOR_NAMES if tied else model_builder.TENSOR_NAMES_WITH_SEPARATE_LM_HEAD
    model = model_builder.DecoderOnlyModel(config, mask_cache_size=kv_cache_max_len)
    try:
        missing, _ = loader.ModelLoader(str(folder), names).load(model, strict=not tied)
    except (KeyError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{folder}: weights do not fit a Llama of its config.json: {exc}") from exc
    missing = [key for key in missing if not (tied and key == "lm_head.weight")]
    if missing:
        raise CheckpointError(f"{folder}: weights missing from the safetensors: {missing[:5]}")
    return model.eval()


def export_causal_lm_tflite(folder, path, *, prefill_len: int = 32, kv_cache_max_len: int = 256,
                            quantize: str = "none") -> dict:
    """Export a `save_pretrained` Llama folder to one TFLite file with `prefill_<prefill_len>` and
    `decode` signatures. `dynamic_int8` is litert-torch's own recipe (int8 channel-wise weights,
    activations quantised at run time), applied during conversion."""
    if quantize not in QUANTIZE:
        raise ConfigError(f"quantize {quantize!r}: choose one of {', '.join(QUANTIZE)}")
    if not 0 < prefill_len <= kv_cache_max_len:
        raise ConfigError(f"prefill_len {prefill_len} must be in 1..kv_cache_max_len ({kv_cache_max_len})")
    folder, path = Path(folder), Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    # stdout: litert-torch's conversion tree; stderr: ai-edge-quantizer's tqdm bars (int8).
    with _generative_api(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        from litert_torch.generative.utilities import converter, export_config

        model = build_edge_model(folder, kv_cache_max_len)
        with tempfile.TemporaryDirectory(dir=path.parent) as work:
            written = converter.convert_to_tflite(
                model, output_path=work, output_name_prefix="model", prefill_seq_len=prefill_len,
                kv_cache_max_len=kv_cache_max_len, quantize=quantize,
                export_config=export_config.ExportConfig())
            shutil.move(written, path)
    convert_s = time.perf_counter() - start
    signatures = sorted(_interpreter(path).get_signature_list())
    return {"path": str(path), "size_bytes": path.stat().st_size, "signatures": signatures,
            "prefill_len": prefill_len, "kv_cache_max_len": kv_cache_max_len, "quantize": quantize,
            "convert_s": convert_s}


def _interpreter(path: Path, threads: int = 1):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path), num_threads=threads)


class _Runner:
    """The two signatures of one exported file and the cache they pass between calls."""

    def __init__(self, path: Path, threads: int):
        from edgekd.quiet import native_stderr_filtered

        if not path.is_file():
            raise ArtifactError(f"{path}: no such TFLite file")
        interpreter = _interpreter(path, threads)
        signatures = interpreter.get_signature_list()
        prefill = [name for name in signatures if name.startswith("prefill_")]
        if "decode" not in signatures or len(prefill) != 1:
            raise ArtifactError(f"{path.name}: needs one `prefill_<n>` and a `decode` signature, "
                                f"has {sorted(signatures)}")
        self.prefill, self.decode = (interpreter.get_signature_runner(name) for name in (prefill[0], "decode"))
        self.prefill_len = int(prefill[0].split("_")[1])
        details = self.decode.get_input_details()
        self.cache = {name: np.zeros(d["shape"], d["dtype"]) for name, d in details.items()
                      if name.startswith("kv_cache_")}
        self.max_len = int(next(iter(self.cache.values())).shape[1])
        # One throw-away run of each: XNNPACK is set up (and says so from C++) on a runner's first
        # call, which would otherwise land in the time to first token. The cache lives in
        # `self.cache`, not in the interpreter, so nothing of these runs carries over.
        with native_stderr_filtered(XNNPACK_NOTICE):
            self.fill([0])
            self.step(0, 0)
        self.cache = {name: np.zeros_like(value) for name, value in self.cache.items()}

    def _keep_cache(self, out: dict) -> dict:
        self.cache = {name: out[name] for name in self.cache}
        return out

    def fill(self, context: list[int]) -> None:
        """Prefill `context` in zero-padded chunks; positions run on through the padding."""
        for start in range(0, len(context), self.prefill_len):
            tokens = np.zeros((1, self.prefill_len), np.int32)
            chunk = context[start:start + self.prefill_len]
            tokens[0, :len(chunk)] = chunk
            positions = np.arange(start, start + self.prefill_len, dtype=np.int32)
            self._keep_cache(self.prefill(tokens=tokens, input_pos=positions, **self.cache))

    def step(self, token: int, position: int) -> np.ndarray:
        out = self._keep_cache(self.decode(tokens=np.array([[token]], np.int32),
                                           input_pos=np.array([position], np.int32), **self.cache))
        return out["logits"][0, -1]


def greedy_decode_tflite(path, prompt_ids, new_tokens: int, threads: int = 1, around_step=None):
    """Greedy decoding at batch 1 in LiteRT (XNNPACK). Returns (tokens, the logits that chose them
    [new_tokens, vocab], timings): `ttft_ms` is the prefill plus the decode of the last prompt token,
    `decode_tokens_per_s` the new_tokens - 1 decode runs after it. `around_step(step)`, if given, is
    a context manager around each step (step 0 the prefill and first decode), as in ONNX."""
    prompt = [int(t) for t in np.asarray(prompt_ids).reshape(-1)]
    if not prompt:
        raise ConfigError("prompt_ids: greedy decoding needs a prompt of at least one token")
    runner = _Runner(Path(path), threads)
    padded = -(-(len(prompt) - 1) // runner.prefill_len) * runner.prefill_len
    if max(padded, len(prompt) + new_tokens - 1) > runner.max_len:
        raise ConfigError(f"prompt ({len(prompt)} tokens, prefilled as {padded}) plus new_tokens "
                          f"({new_tokens}) exceed the file's kv_cache_max_len ({runner.max_len})")
    tokens, rows, step_s = [], [], []
    around_step = around_step or (lambda step: contextlib.nullcontext())
    start = time.perf_counter()
    token, position = prompt[-1], len(prompt) - 1
    for step in range(new_tokens):
        with around_step(step):
            if step == 0:
                runner.fill(prompt[:-1])
            rows.append(runner.step(token, position))
        step_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        token, position = int(rows[-1].argmax()), position + 1
        tokens.append(token)
    decode_s = sum(step_s[1:])
    timings = {"ttft_ms": 1000 * step_s[0] if step_s else 0.0,
               "decode_tokens_per_s": (len(step_s) - 1) / decode_s if decode_s > 0 else 0.0}
    return tokens, np.stack(rows) if rows else np.zeros((0, 0), np.float32), timings


def check_parity_tflite(model, path, prompt_ids, steps: int = 32) -> dict:
    """TFLite greedy decoding vs the PyTorch model teacher-forced on the same text: one full forward of
    prompt + TFLite tokens gives PyTorch's logits at every step, so logits stay comparable even after
    the two would pick different tokens. `first_token_mismatch` is the first step whose PyTorch argmax
    differs (free-running greedy texts agree up to it); `rel_logit_error` is the max difference over
    the largest logit, so it reads the same for flat random-weight logits and trained ones."""
    import torch

    if steps < 1:
        raise ConfigError(f"steps {steps}: the parity check needs at least one decoded token")
    prompt = [int(t) for t in np.asarray(prompt_ids).reshape(-1)]
    tokens, logits, _ = greedy_decode_tflite(path, prompt, steps)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            out = model(input_ids=torch.tensor([prompt + tokens[:-1]]))
    finally:
        model.train(was_training)
    ref = out.logits[0, len(prompt) - 1:].float().numpy()
    agree = ref.argmax(-1) == np.asarray(tokens)
    max_diff, scale = float(np.abs(ref - logits).max()), float(np.abs(ref).max())
    return {"max_abs_logit_diff": max_diff, "max_abs_logit": scale,
            "rel_logit_error": max_diff / scale if scale else 0.0,
            "first_token_mismatch": None if agree.all() else int(np.argmin(agree)),
            "tokens_agree": int(agree.sum()), "steps": steps}
