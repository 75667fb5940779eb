"""Exporters: PyTorch (fp32 or PT2E int8) to ONNX and to TFLite, one function per route."""
