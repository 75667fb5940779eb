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


def load_model(name: str, path: str | Path, **kwargs):
    """Build the registered model `name` and fill it with the weights from `path` (strict keys)."""
    from edgekd.zoo import build_model

    model = build_model(name, **kwargs)
    state = read_state_dict(path)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{path} does not fit model {name!r}: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    for key, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise CheckpointError(
                f"{path} does not fit model {name!r}: {key} is {tuple(tensor.shape)}, "
                f"model wants {tuple(expected[key].shape)}"
            )
    model.load_state_dict(state)
    return model.eval()
