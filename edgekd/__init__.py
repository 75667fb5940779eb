"""edgekd: distil a big model into a small one, compress it, export it for phones, and prove it.

Importing this package is cheap: torch, onnxruntime and the TFLite tools load only when a stage runs.
"""

__version__ = "0.2.0"


def load_config(path, overrides=None):
    """Read and validate a pipeline YAML file (see `edgekd.config`)."""
    from edgekd.config import load_config as _load

    return _load(path, overrides)


def run(config, console=None):
    """Run a pipeline config, reusing every artifact whose inputs have not changed."""
    from edgekd.pipeline import run as _run

    return _run(config, console)


__all__ = ["__version__", "load_config", "run"]
