"""Write Fashion-MNIST (Debian's IDX files) as PNG class folders, the layout most users' own image
sets have: OUT/train/<class>/<index>.png and OUT/test/<class>/<index>.png.

    python examples/data/fashion_mnist_to_png.py [OUT] [--train-per-class N] [--test-per-class M]

The first N training and M test images of each class are written (default 1000 and 200: 12,000
images in all, enough for `pipelines/image_folder_timm.yaml` to train a ResNet teacher in minutes on a
laptop CPU). Real pixels, real files: edgekd's image_folder source then decodes them with Pillow.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from a checkout without installing

from edgekd.data.fashion_mnist import CLASS_NAMES, load_split  # noqa: E402

DEFAULT_OUT = Path("artifacts/fmnist_png")


def folder_name(class_name: str) -> str:
    return class_name.replace("/", "_").replace(" ", "_")


def write_split(split: str, out: Path, per_class: int) -> int:
    from PIL import Image

    data = load_split(split)
    written = 0
    for label, name in enumerate(CLASS_NAMES):
        folder = out / split / folder_name(name)
        folder.mkdir(parents=True, exist_ok=True)
        for index in [i for i, y in enumerate(data.labels) if y == label][:per_class]:
            Image.fromarray(data.images[index]).save(folder / f"{index:05d}.png")
            written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--train-per-class", type=int, default=1000)
    parser.add_argument("--test-per-class", type=int, default=200)
    args = parser.parse_args()
    counts = [write_split("train", args.out, args.train_per_class), write_split("test", args.out, args.test_per_class)]
    print(f"wrote {counts[0]} training and {counts[1]} test PNGs under {args.out}")


if __name__ == "__main__":
    main()
