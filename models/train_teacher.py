"""Train the quickstart teacher (`fmnist_teacher`) on Fashion-MNIST and write its checkpoint.

    .venv/bin/python models/train_teacher.py --epochs 12 --seed 0

Writes models/fmnist_teacher.safetensors and models/fmnist_teacher.json (test accuracy, parameters,
training time, data fingerprint, the command). Training uses light augmentation (random shifts of up
to 2 pixels and horizontal flips), which the student never sees: the cached logits are computed on
the plain images, as the student is trained on them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from edgekd.models.checkpoints import save_weights  # noqa: E402
from edgekd.data.fashion_mnist import load_split, normalize  # noqa: E402
from edgekd.kd.trainer import Recipe, train  # noqa: E402
from edgekd.model_artifacts import accuracy, torch_logits  # noqa: E402
from edgekd.zoo import build_model, count_params  # noqa: E402


def shift_and_flip(batch: torch.Tensor, rng: np.random.Generator, pad: int = 2) -> torch.Tensor:
    """Random translation by up to `pad` pixels (zero-padded crop) and a random horizontal flip."""
    n, _, h, w = batch.shape
    padded = torch.nn.functional.pad(batch, (pad, pad, pad, pad), value=float(batch.min()))
    dx, dy = rng.integers(0, 2 * pad + 1, size=2)
    out = padded[:, :, dy:dy + h, dx:dx + w]
    flip = torch.from_numpy(rng.random(n) < 0.5)
    return torch.where(flip[:, None, None, None], out.flip(3), out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--out", type=Path, default=ROOT / "models" / "fmnist_teacher")
    args = parser.parse_args()

    console = Console()
    train_split, test_split = load_split("train"), load_split("test")
    torch.manual_seed(args.seed)
    model = build_model("fmnist_teacher")
    recipe = Recipe(epochs=args.epochs, batch_size=128, lr=args.lr, alpha=0.0)
    started = time.time()
    train(model, normalize(train_split.images), train_split.labels, None, recipe, args.seed, console,
          label="teacher", augment=shift_and_flip)
    seconds = time.time() - started
    test_accuracy = accuracy(torch_logits(model, normalize(test_split.images)), test_split.labels)
    save_weights(model, args.out.with_suffix(".safetensors"))
    record = {
        "model": "fmnist_teacher", "test_accuracy": test_accuracy, "params": count_params(model),
        "epochs": args.epochs, "seed": args.seed, "lr": args.lr, "train_seconds": round(seconds, 1),
        "command": f"python models/train_teacher.py --epochs {args.epochs} --seed {args.seed} --lr {args.lr}",
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "data_fingerprint": train_split.fingerprint[:16] + "/" + test_split.fingerprint[:16],
    }
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    console.print(record)


if __name__ == "__main__":
    main()
