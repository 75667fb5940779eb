"""Model-source registry: `source:` prefix -> the module that builds it.

Each source module has `resolve_kwargs(target, kwargs, input_spec)` (fills in what the data decides,
such as the number of classes and input channels, so the artifact can rebuild the model without the
data), `build(target, kwargs) -> nn.Module`, and `fingerprint(target)` (a digest of user code that the
model depends on, or None). Sources import their library (timm, torchvision, onnxruntime) only here,
when a spec names them, so `import edgekd` stays lean.
"""

from __future__ import annotations

import importlib
from types import ModuleType

SOURCE_MODULES = {
    "builtin": "edgekd.models.builtin",
    "timm": "edgekd.models.timm_source",
    "torchvision": "edgekd.models.torchvision_source",
    "file": "edgekd.models.python_source",
    "module": "edgekd.models.python_source",
    "onnx": "edgekd.models.onnx_source",
    "hf": "edgekd.models.hf_source",
}


def source_module(source: str) -> ModuleType:
    return importlib.import_module(SOURCE_MODULES[source])
