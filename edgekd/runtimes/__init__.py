"""Inference engines behind one small interface: `run(batch) -> logits` and `describe()`."""
