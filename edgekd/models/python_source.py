"""`file:<path.py>:<callable>` and `module:<pkg.mod>:<callable>`: the user's own model factory.

Naming a Python file in a pipeline runs that file (as Olive's `model_script` does): it is the user's
code, trusted like any script they run. Its SHA-256 goes into the artifact id of the stage that
names it, so editing the file retrains. The callable gets the YAML `kwargs`, plus `num_classes` and
`in_channels` from the data when its signature takes them, and must return an `nn.Module`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path

from edgekd.errors import CheckpointError

DATA_KWARGS = ("num_classes", "in_channels")


def _split(target: str) -> tuple[str, str]:
    where, _, attribute = target.rpartition(":")
    return where, attribute


def _is_file(target: str) -> bool:
    return _split(target)[0].endswith(".py")


def _load_module(where: str, target: str):
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise CheckpointError(f"model file {path} not found (file:{target})")
        name = "edgekd_user_" + hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses and pickling look modules up by name
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(name, None)
            raise CheckpointError(f"model file {path} failed to run: {type(exc).__name__}: {exc}") from None
        return module
    try:
        return importlib.import_module(where)
    except Exception as exc:
        raise CheckpointError(f"cannot import module {where!r} (module:{target}): {type(exc).__name__}: {exc}") from None


def _factory(target: str):
    where, attribute = _split(target)
    module = _load_module(where, target)
    factory = getattr(module, attribute, None)
    if not callable(factory):
        public = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_"))
        raise CheckpointError(f"{where} has no callable {attribute!r}; it defines: {', '.join(public[:8])}")
    return factory


def resolve_kwargs(target: str, kwargs: dict, input_spec) -> dict:
    resolved = dict(kwargs)
    if input_spec is None:
        return resolved
    try:
        accepted = inspect.signature(_factory(target)).parameters
    except (TypeError, ValueError):
        return resolved
    values = {"num_classes": input_spec.num_classes, "in_channels": input_spec.channels}
    for key in DATA_KWARGS:
        if key in accepted and key not in resolved and values[key]:
            resolved[key] = values[key]
    return resolved


def build(target: str, kwargs: dict):
    from torch import nn

    factory = _factory(target)
    try:
        model = factory(**kwargs)
    except Exception as exc:
        raise CheckpointError(f"{target}: building the model raised {type(exc).__name__}: {exc}") from None
    if not isinstance(model, nn.Module):
        raise CheckpointError(f"{target} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def fingerprint(target: str) -> str | None:
    """SHA-256 of the file (or the imported module's source file) the model code lives in."""
    where, _ = _split(target)
    path = Path(where) if _is_file(target) else None
    if path is None:
        found = importlib.util.find_spec(where.split(".")[0]) and importlib.util.find_spec(where)
        path = Path(found.origin) if found is not None and found.origin else None
    if path is None or not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()
