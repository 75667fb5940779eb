"""Silence the third-party chatter a run would otherwise print (C++ logs, deprecation warnings).

The converters log every pass and warn about internals users cannot act on; left alone they bury the
progress bars and the report. Our own messages and real errors still come through.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import warnings
from typing import Iterator

QUIET_ENV = {
    "LITERT_TORCH_SHOW_PROGRESS": "0",  # litert-torch's [START]/[DONE] conversion tree
    "TF_CPP_MIN_LOG_LEVEL": "3",        # TensorFlow/LiteRT converter C++ logs
    "GLOG_minloglevel": "2",
    "ABSL_MIN_LOG_LEVEL": "2",
    "TF_ENABLE_ONEDNN_OPTS": "0",       # else a notice about oneDNN rounding on every import
    "TORCHAO_FORCE_SKIP_LOADING_SO_FILES": "1",  # torchao's GPU kernels: absent on CPU, warns
}
QUIET_LOGGERS = ("torch", "torch.onnx", "torch.export", "torch.utils._pytree", "torchao", "absl", "litert_torch",
                 "ai_edge_quantizer", "onnxscript", "jax")


def quiet_third_party() -> None:
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*non-writable tensors.*")
    warnings.filterwarnings("ignore", message=".*TypedStorage is deprecated.*")


@contextlib.contextmanager
def native_stderr_filtered(drop: tuple[str, ...]) -> Iterator[None]:
    """Within the block, lines a native library writes to stderr (fd 2) that start with one of `drop`
    are removed; every other line is written back afterwards, so real errors still show."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().decode(errors="replace").splitlines(keepends=True)
                    if not line.startswith(drop)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


@contextlib.contextmanager
def transformers_quiet() -> Iterator[None]:
    """transformers logs warnings about unused weights and draws a "Loading weights" bar per model."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
