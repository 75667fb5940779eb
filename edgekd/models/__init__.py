"""Model sources: where a teacher or student comes from (built-in zoo, timm, torchvision, a user's
Python file or module, an exported ONNX file), one file per source plus the registry in `registry`."""
