"""Save and load model weights safely: safetensors, or `torch.load(weights_only=True)` for .pt files.

Pickled checkpoints can run arbitrary code when loaded; `weights_only=True` refuses anything but
tensors and plain containers, and we turn that refusal into a one-line error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgekd.errors import CheckpointError

SAFE_SUFFIXES = (".safetensors",)
TORCH_SUFFIXES = (".pt", ".pth", ".bin")


def save_weights(model, path: Path) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(path))


def read_state_dict(path: str | Path) -> dict[str, Any]:
    """Tensors of a checkpoint file, refusing anything that would need to execute code."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found")
    if path.suffix in SAFE_SUFFIXES:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{path}: not a readable safetensors file ({exc})") from exc
    if path.suffix in TORCH_SUFFIXES:
        import pickle

        import torch

        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(
                f"{path}: refused to load: not a plain tensor checkpoint (weights_only=True: {first_line})"
            ) from exc
        if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise CheckpointError(f"{path}: expected a state_dict, found {type(state).__name__}")
        return state
    raise CheckpointError(f"{path}: unsupported checkpoint type; use .safetensors, .pt or .pth")


def strip_key_prefix(state: dict[str, Any], prefix: str | None) -> dict[str, Any]:
    """Drop `prefix` (e.g. `module.` from DDP, `model.` from Lightning) from every key that has it."""
    if not prefix:
        return state
    return {key.removeprefix(prefix): value for key, value in state.items()}


def load_state_strict(model, state: dict[str, Any], where: str, label: str) -> None:
    """Load `state` into `model` only when every key and shape fits; else one line naming the first
    few missing, unexpected and mis-shaped keys."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshaped = [f"{key} {tuple(state[key].shape)} vs {tuple(expected[key].shape)}"
                 for key in sorted(set(state) & set(expected))
                 if tuple(state[key].shape) != tuple(expected[key].shape)]
    if missing or unexpected or misshaped:
        parts = [f"{what} {len(keys)} ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})"
                 for what, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped))
                 if keys]
        hint = ""
        if unexpected and missing and all("." in k for k in unexpected):
            prefix = unexpected[0].split(".", 1)[0] + "."
            if all(k.startswith(prefix) for k in unexpected):
                hint = f"; try strip_prefix: {prefix!r}"
        raise CheckpointError(f"{where} does not fit model {label}: {'; '.join(parts)}{hint}")
    model.load_state_dict(state)


def load_model(name, path: str | Path, strip_prefix: str | None = None, **kwargs):
    """Build the model `name` (a spec string or ModelSpec) with `kwargs` and fill it with the weights
    from `path`, strictly."""
    from edgekd.models.build import build_model
    from edgekd.models.spec import parse_spec

    spec = parse_spec(name)
    spec = spec.model_copy(update={"kwargs": {**spec.kwargs, **kwargs}, "checkpoint": str(path),
                                   "strip_prefix": strip_prefix or spec.strip_prefix})
    return build_model(spec)[0].eval()
