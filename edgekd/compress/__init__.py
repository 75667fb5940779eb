"""Compression: post-training and quantisation-aware int8 (PT2E), structured pruning, sparsity."""
