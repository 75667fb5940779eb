"""Write aeon's bundled JapaneseVowels (equal-length version) as an `arrays` data set.

JapaneseVowels (Kudo et al. 1999, UCI; BSD-licensed copy inside PyPI `aeon`): nine speakers utter a
vowel; each sample is 12 LPC cepstrum channels over 25 frames, 270 training and 370 test series.
It stands in for a multichannel sensor window (N, C, T). The .ts file is read straight from the aeon
package (its folder is found without importing aeon, whose dependencies would move numpy), or from
an aeon wheel given on the command line; nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).with_name("japanese_vowels.npz")
MEMBER = "aeon/datasets/data/JapaneseVowels/JapaneseVowels_eq_{split}.ts"


def read_ts(text: str) -> tuple[np.ndarray, np.ndarray]:
    """The .ts format: `@` header lines, then one series per line, channels separated by `:`, the
    last field the class label."""
    rows = [line for line in text.splitlines() if line and not line.startswith(("@", "#"))]
    series, labels = [], []
    for row in rows:
        *channels, label = row.split(":")
        series.append([[float(v) for v in channel.split(",")] for channel in channels])
        labels.append(label)
    return np.asarray(series, dtype=np.float32), np.asarray(labels)


def source_text(split: str, wheel: str | None) -> str:
    if wheel:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(MEMBER.format(split=split)).decode()
    found = importlib.util.find_spec("aeon")
    if found is None:
        sys.exit("aeon is not installed: pip download aeon==1.6.0 --no-deps, then pass the wheel's path")
    return (Path(found.origin).parents[1] / MEMBER.format(split=split)).read_text()


def main() -> None:
    wheel = sys.argv[1] if len(sys.argv) > 1 else None
    x_train, y_train = read_ts(source_text("TRAIN", wheel))
    x_test, y_test = read_ts(source_text("TEST", wheel))
    np.savez_compressed(OUT, x_train=x_train, y_train=y_train.astype(np.int64) - 1, x_test=x_test,
                        y_test=y_test.astype(np.int64) - 1)
    print(f"wrote {OUT}: {x_train.shape} train, {x_test.shape} test")


if __name__ == "__main__":
    main()
