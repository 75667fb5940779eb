"""Which greedy decoder runs an exported causal LM file: one place for the choice, by file suffix."""

from __future__ import annotations

from pathlib import Path


def greedy_decoder(path: Path | str):
    """`greedy_decode_onnx` for `.onnx` files (this package's export and ONNX Runtime GenAI's builder's),
    `greedy_decode_tflite` for `.tflite`; both take (path, prompt_ids, new_tokens, threads, around_step)."""
    suffix = Path(path).suffix
    if suffix == ".onnx":
        from edgekd.export.causal_lm_onnx import greedy_decode_onnx

        return greedy_decode_onnx
    if suffix == ".tflite":
        from edgekd.export.causal_lm_tflite import greedy_decode_tflite

        return greedy_decode_tflite
    from edgekd.errors import ArtifactError

    raise ArtifactError(f"{Path(path).name}: not an exported causal LM (.onnx or .tflite)")
