"""Measuring models: latency loops and their statistics."""
