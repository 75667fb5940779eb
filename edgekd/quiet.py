"""Silence the third-party chatter a run would otherwise print (C++ logs, deprecation warnings).

The converters log every pass and warn about internals users cannot act on; left alone they bury the
progress bars and the report. Our own messages and real errors still come through.
"""

from __future__ import annotations

import logging
import os
import warnings

QUIET_ENV = {
    "LITERT_TORCH_SHOW_PROGRESS": "0",  # litert-torch's [START]/[DONE] conversion tree
    "TF_CPP_MIN_LOG_LEVEL": "3",        # TensorFlow/LiteRT converter C++ logs
    "GLOG_minloglevel": "2",
    "ABSL_MIN_LOG_LEVEL": "2",
    "TF_ENABLE_ONEDNN_OPTS": "0",       # else a notice about oneDNN rounding on every import
    "TORCHAO_FORCE_SKIP_LOADING_SO_FILES": "1",  # torchao's GPU kernels: absent on CPU, warns
}
QUIET_LOGGERS = ("torch", "torch.onnx", "torch.export", "absl", "litert_torch", "ai_edge_quantizer",
                 "onnxscript", "jax")


def quiet_third_party() -> None:
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*non-writable tensors.*")
    warnings.filterwarnings("ignore", message=".*TypedStorage is deprecated.*")
