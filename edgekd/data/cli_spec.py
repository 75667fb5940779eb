"""A data source as typed on a command line (`edgekd init --data`, `edgekd export --data`).

Two forms:
- a YAML flow mapping, exactly the pipeline's `data:` block: `'{type: arrays, path: d.npz, layout: NHW}'`
  (read with `yaml.safe_load`, never executed);
- a short form per source (the mapping form reaches every other field):

    idx                              Fashion-MNIST from the default places
    idx:DIR                          the four IDX files in DIR
    arrays:PATH.npz:LAYOUT[:DIVIDE]  a .npz (or a folder of .npy files); LAYOUT NCHW, NHWC, NHW, NCL, NLC, NC
    image_folder:ROOT:HxW[:CHANNELS] ROOT/train and ROOT/test, or ROOT/<class>/ split here
    csv:PATH:LABEL                   one CSV split here; LABEL is the label column

`preflight` then checks that the files exist without decoding them, so `init` stays quick on big data.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Optional

from edgekd.errors import ConfigError, DataError

SHORT_FORMS = ("idx", "idx:DIR", "arrays:PATH.npz:LAYOUT[:DIVIDE_BY]", "image_folder:ROOT:HxW[:CHANNELS]",
               "csv:PATH:LABEL")
ARRAY_LAYOUTS = ("NCHW", "NHWC", "NHW", "NCL", "NLC", "NC")


def flow_mapping(text: str, what: str) -> Optional[dict]:
    """The mapping a `{...}` argument spells, or None when `text` is not one (a short form)."""
    import yaml

    if not text.strip().startswith("{"):
        return None
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{what} {text!r}: not a YAML mapping ({problem})") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{what} {text!r}: not a YAML mapping")
    return value


def data_mapping(text: str) -> dict[str, Any]:
    """The `data:` mapping a command-line data spec stands for (not yet validated)."""
    text = text.strip()
    mapping = flow_mapping(text, "data spec")
    if mapping is not None:
        return mapping
    source, _, rest = text.partition(":")
    parse = _SHORT_PARSERS.get(source)
    if parse is None:
        raise ConfigError(f"data spec {text!r}: unknown source {source!r}; use a YAML mapping "
                          f"'{{type: ..., ...}}' or one of: {', '.join(SHORT_FORMS)}")
    return parse(rest, text)


def _idx(rest: str, text: str) -> dict:
    return {"type": "idx", "data_dir": rest} if rest else {"type": "idx"}


def _arrays(rest: str, text: str) -> dict:
    # Parsed from the right, so a path may itself contain ':'.
    head, _, last = rest.rpartition(":")
    divide_by = None
    if head and last not in ARRAY_LAYOUTS:
        head, _, layout = head.rpartition(":")
        divide_by = _number(last, text, "DIVIDE_BY")
    else:
        layout = last
    if not head or layout not in ARRAY_LAYOUTS:
        raise ConfigError(f"data spec {text!r}: expected arrays:PATH.npz:LAYOUT[:DIVIDE_BY] with LAYOUT one of "
                          f"{', '.join(ARRAY_LAYOUTS)}")
    # A folder means the four-.npy form; anything else is taken as the .npz.
    mapping = {"type": "arrays", ("npy_dir" if Path(head).is_dir() else "path"): head, "layout": layout}
    if divide_by is not None:
        mapping["divide_by"] = divide_by
    return mapping


def _image_folder(rest: str, text: str) -> dict:
    usage = "expected image_folder:ROOT:HxW[:CHANNELS], e.g. image_folder:photos:64x64:3"
    head, _, last = rest.rpartition(":")
    channels = None
    if last in ("1", "3"):  # the optional CHANNELS field; the size is the field before it
        channels = int(last)
        head, _, last = head.rpartition(":")
    size = re.fullmatch(r"(\d+)x(\d+)", last)
    if not head or not size:
        raise ConfigError(f"data spec {text!r}: {usage}")
    mapping: dict[str, Any] = {"type": "image_folder", "root": head, "size": [int(size[1]), int(size[2])]}
    if channels is not None:
        mapping["channels"] = channels
    if not (Path(head) / "train").is_dir() and Path(head).is_dir():
        mapping["train_dir"] = None  # no train/ subfolder: ROOT/<class>/ holds everything, split here
    return mapping


def _csv(rest: str, text: str) -> dict:
    path, _, label = rest.rpartition(":")
    if not path or not label:
        raise ConfigError(f"data spec {text!r}: expected csv:PATH:LABEL (LABEL: the label column)")
    return {"type": "csv", "path": path, "label": label}


def _number(value: str, text: str, name: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"data spec {text!r}: {name} {value!r} is not a number") from None
    return int(number) if number.is_integer() else number


_SHORT_PARSERS = {"idx": _idx, "arrays": _arrays, "image_folder": _image_folder, "csv": _csv}


def data_config(mapping: dict, text: str = ""):
    """The validated data config of a mapping; a bad field is one `ConfigError` line."""
    from pydantic import ValidationError

    from edgekd.config import describe_validation_error
    from edgekd.data.registry import parse_data_config

    try:
        return parse_data_config(mapping)
    except ValidationError as exc:
        where = f"data spec {text!r}" if text else "data"
        raise ConfigError(f"{where}: {describe_validation_error(exc, {'data': mapping}, prefix=('data',))}") from None


def parse_data_spec(text: str):
    """(mapping, validated config) of a command-line data spec."""
    mapping = data_mapping(text)
    return mapping, data_config(mapping, text)


def preflight(config) -> Optional[int]:
    """Check that the files `config` names exist, reading headers only (never whole datasets).
    Returns the number of training samples when the headers tell it cheaply, else None."""
    check = _PREFLIGHT.get(config.type)
    count = check(config) if check else None  # a source added later: checked when the run loads it
    if count is not None and config.train_subset:
        count = min(count, config.train_subset)
    return count


def _preflight_idx(config) -> int:
    import gzip

    from edgekd.data.fashion_mnist import _find_file, resolve_data_dir

    names = config.files.model_dump()
    folder = resolve_data_dir(config.data_dir, tuple(names.values()))  # names every missing file
    path = _find_file(folder, names["train_images"])
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            header = handle.read(8)
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    if len(header) < 8:
        raise DataError(f"{path}: truncated header ({len(header)} bytes)")
    return int.from_bytes(header[4:8], "big")


def _preflight_arrays(config) -> Optional[int]:
    import zipfile

    import numpy as np

    from edgekd.data.arrays import KEYS, files

    paths = files(config)
    for path in paths:
        if not path.is_file():
            raise DataError(f"arrays file {path} not found")
    if config.npy_dir:
        return int(np.load(paths[0], mmap_mode="r", allow_pickle=False).shape[0])
    # A .npz is a zip of .npy files: its directory and one array header are cheap to read.
    try:
        with zipfile.ZipFile(paths[0]) as archive:
            names = [name.removesuffix(".npy") for name in archive.namelist()]
            missing = [key for key in KEYS if key not in names]
            if missing:
                raise DataError(f"{paths[0]}: missing arrays {missing}; it has {names}")
            with archive.open("x_train.npy") as handle:
                major, _ = np.lib.format.read_magic(handle)
                read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                shape, _, _ = read_header(handle)
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise DataError(f"{paths[0]}: not a readable .npz file ({exc})") from None
    return int(shape[0]) if shape else None


def _preflight_csv(config) -> Optional[int]:
    from edgekd.data.csv_table import files

    paths = files(config)
    for path in paths:
        if not path.is_file():
            raise DataError(f"CSV file {path} not found")
    with open(paths[0], "rb") as handle:
        rows = max(sum(1 for line in handle if line.strip()) - 1, 0)  # minus the header
    return rows if not config.path else int(round(rows * (1 - config.test_fraction)))


def _preflight_image_folder(config) -> int:
    from edgekd.data.image_folder import SUFFIXES

    root = Path(config.root)
    folders = [root] if config.train_dir is None else [root / config.train_dir, root / config.test_dir]
    for folder in folders:
        if not folder.is_dir():
            hint = " (no train/ and test/ subfolders? give train_dir: null to split one folder)" \
                if config.train_dir is not None and root.is_dir() else ""
            raise DataError(f"image folder {folder} not found{hint}")
    images = sum(1 for path in folders[0].glob("*/*") if path.suffix.lower() in SUFFIXES)
    if not images:
        raise DataError(f"{folders[0]}: no images (expected {folders[0]}/<class>/*.png|jpg)")
    return images if config.train_dir is not None else int(round(images * (1 - config.test_fraction)))


_PREFLIGHT = {"idx": _preflight_idx, "arrays": _preflight_arrays, "csv": _preflight_csv,
              "image_folder": _preflight_image_folder}
