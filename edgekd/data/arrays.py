"""`arrays`: a `.npz` with `x_train`, `y_train`, `x_test`, `y_test` (or four `.npy` files).

Samples can be images (NCHW, or NHWC transposed once here), sensor windows (N, C, T) or tabular rows
(N, F); the layout is declared, never guessed. Labels may be ints or strings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field

from edgekd.data.base import DataConfigBase, RawData
from edgekd.errors import DataError

KEYS = ("x_train", "y_train", "x_test", "y_test")
# Declared layout -> (layout inside edgekd, axes permutation of each sample batch).
LAYOUTS = {"NCHW": ("NCHW", None), "NHWC": ("NCHW", (0, 3, 1, 2)), "NHW": ("NCHW", "add_channel"),
           "NCL": ("NCL", None), "NLC": ("NCL", (0, 2, 1)), "NC": ("NC", None)}


class ArraysConfig(DataConfigBase):
    type: Literal["arrays"] = "arrays"
    path: Optional[str] = Field(None, description=".npz holding x_train, y_train, x_test, y_test")
    npy_dir: Optional[str] = Field(None, description="or a folder of x_train.npy, y_train.npy, ...")
    layout: Literal["NCHW", "NHWC", "NHW", "NCL", "NLC", "NC"]
    divide_by: Optional[float] = Field(None, gt=0, description="divide stored values first; default 255 for uint8")


def files(config: ArraysConfig) -> list[Path]:
    if bool(config.path) == bool(config.npy_dir):
        raise DataError("data: give exactly one of `path` (.npz) or `npy_dir` (arrays source)")
    if config.path:
        return [Path(config.path)]
    return [Path(config.npy_dir) / f"{key}.npy" for key in KEYS]


def load(config: ArraysConfig) -> RawData:
    import numpy as np

    paths = files(config)
    for path in paths:
        if not path.is_file():
            raise DataError(f"arrays file {path} not found")
    try:
        if config.path:
            with np.load(paths[0], allow_pickle=False) as archive:
                missing = [k for k in KEYS if k not in archive.files]
                if missing:
                    raise DataError(f"{paths[0]}: missing arrays {missing}; it has {archive.files}")
                arrays = {k: archive[k] for k in KEYS}
        else:
            arrays = {k: np.load(p, allow_pickle=False) for k, p in zip(KEYS, paths)}
    except (ValueError, OSError) as exc:
        raise DataError(f"{paths[0]}: not a readable numpy file ({exc})") from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if len(x) != len(y):
            raise DataError(f"{paths[0]}: x_{split} has {len(x)} samples but y_{split} has {len(y)} labels")
    layout, order = LAYOUTS[config.layout]
    want = {"NCHW": 4, "NCL": 3, "NC": 2}[layout] - (1 if order == "add_channel" else 0)
    for key in ("x_train", "x_test"):
        if arrays[key].ndim != want:
            raise DataError(f"{paths[0]}: {key} has shape {arrays[key].shape}, layout {config.layout} "
                            f"needs {want} dimensions")
        if order == "add_channel":
            arrays[key] = arrays[key][:, None]
        elif order is not None:
            arrays[key] = np.ascontiguousarray(arrays[key].transpose(order))
    if arrays["x_train"].shape[1:] != arrays["x_test"].shape[1:]:
        raise DataError(f"{paths[0]}: train samples are {arrays['x_train'].shape[1:]}, "
                        f"test samples {arrays['x_test'].shape[1:]}")
    from edgekd.data.base import label_ids

    train_y, test_y, classes = label_ids(arrays["y_train"], arrays["y_test"], str(paths[0]))
    divisor = config.divide_by or (255.0 if arrays["x_train"].dtype == np.uint8 else 1.0)
    return RawData(arrays["x_train"], train_y, arrays["x_test"], test_y, layout,
                   config.class_names or classes, divisor=divisor, files=paths, description=f"arrays {config.layout}")
