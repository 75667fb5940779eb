"""Text: Hugging Face tokenizers and the token-id conventions every text model in edgekd shares."""
