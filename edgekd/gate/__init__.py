"""The CI regression gate: budgets on size, accuracy, latency and parity against a baseline report."""
