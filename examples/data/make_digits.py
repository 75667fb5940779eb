"""Write scikit-learn's bundled digits (1,797 real 8x8 handwritten digits, values 0..16) as an
`arrays` data set: examples/data/digits.npz with x_train/y_train/x_test/y_test, a seeded 80/20 split
stratified by class. Needs scikit-learn (`pip install -e '.[examples]'`); nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).with_name("digits.npz")


def main() -> None:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images.astype(np.uint8)  # integer counts 0..16, exactly representable
    x_train, x_test, y_train, y_test = train_test_split(images, digits.target, test_size=0.2, random_state=0,
                                                        stratify=digits.target)
    np.savez_compressed(OUT, x_train=x_train, y_train=y_train.astype(np.int64), x_test=x_test,
                        y_test=y_test.astype(np.int64))
    print(f"wrote {OUT}: {len(x_train)} train, {len(x_test)} test, shape {x_train.shape[1:]}")


if __name__ == "__main__":
    main()
