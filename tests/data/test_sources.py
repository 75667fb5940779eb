"""Data sources: arrays, csv and image folders on real files, and the one-line errors for bad ones."""

import numpy as np
import pytest
from click.testing import CliRunner

from edgekd.cli import main
from edgekd.context import DataSource
from edgekd.data.registry import DATA_SOURCES
from edgekd.errors import DataError


@pytest.mark.parametrize("source", sorted(DATA_SOURCES))
def test_every_registered_source_has_a_typed_config_and_a_loader(source):
    import importlib

    config, module = DATA_SOURCES[source]
    assert config.model_fields["type"].default == source
    assert callable(importlib.import_module(module).load)


def _npz(tmp_path, x_train, y_train, x_test, y_test, name="d.npz"):
    path = tmp_path / name
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return str(path)


def test_nhwc_uint8_arrays_become_normalised_nchw_with_the_spec_recorded(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(20, 6, 5, 3), dtype=np.uint8)
    y = np.array(["cat", "dog"] * 10)
    data = DataSource({"type": "arrays", "path": _npz(tmp_path, x, y, x[:6], y[:6]), "layout": "NHWC"})
    train = data.split("train")
    assert train.inputs.shape == (20, 3, 6, 5) and train.inputs.dtype == np.float32
    spec = data.input_spec
    assert spec.shape == (3, 6, 5) and spec.class_names == ("cat", "dog") and len(spec.mean) == 3
    np.testing.assert_allclose(train.inputs.mean(axis=(0, 2, 3)), 0, atol=1e-5)  # `auto` statistics
    assert list(train.labels[:2]) == [0, 1]


def test_arrays_with_mismatched_lengths_are_refused(tmp_path):
    x = np.zeros((10, 4), np.float32)
    path = _npz(tmp_path, x, np.zeros(9, np.int64), x, np.zeros(10, np.int64))
    with pytest.raises(DataError, match="x_train has 10 samples but y_train has 9 labels"):
        DataSource({"type": "arrays", "path": path, "layout": "NC"}).split("train")


def test_a_per_sample_shape_the_model_rejects_is_one_line(tmp_path):
    x = np.zeros((16, 3, 10, 10), np.float32)
    y = np.arange(16) % 10
    path = _npz(tmp_path, x, y, x, y)
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"name: x\nartifacts_dir: {tmp_path / 'a'}\n"
                        f"data: {{type: arrays, path: {path}, layout: NCHW}}\n"
                        "stages: [{type: teacher, train: {epochs: 1}}]\n")
    result = CliRunner().invoke(main, ["run", str(pipeline)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.stderr.strip().startswith("error: teacher fmnist_teacher cannot take this data's samples of shape [3, 10, 10]")


def test_csv_string_labels_become_ids_and_class_names(tmp_path):
    rows = ["sepal,petal,kind"] + [f"{i % 7}.5,{i % 3}.25,{['setosa', 'virginica'][i % 2]}" for i in range(30)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    data = DataSource({"type": "csv", "path": str(tmp_path / "t.csv"), "label": "kind", "test_fraction": 0.2})
    assert len(data.split("train")) == 24 and len(data.split("test")) == 6
    assert data.input_spec.class_names == ("setosa", "virginica") and data.input_spec.layout == "NC"
    assert data.split("train").inputs.shape == (24, 2)


def test_csv_without_its_label_column_names_the_columns(tmp_path):
    (tmp_path / "t.csv").write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(DataError, match="no label column 'label'; columns: a, b"):
        DataSource({"type": "csv", "path": str(tmp_path / "t.csv"), "label": "label"}).split("train")


def _image_folder(root, classes_by_split, size=(12, 10)):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, classes in classes_by_split.items():
        for name in classes:
            (root / split / name).mkdir(parents=True)
            for i in range(3):
                pixels = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i}.png")


def test_image_folder_decodes_once_into_a_keyed_memmap(tmp_path):
    _image_folder(tmp_path / "img", {"train": ["ant", "bee"], "test": ["ant", "bee"]})
    config = {"type": "image_folder", "root": str(tmp_path / "img"), "size": [8, 8], "channels": 1}
    data = DataSource(config, cache_dir=tmp_path / "cache")
    assert data.split("train").inputs.shape == (6, 1, 8, 8) and data.input_spec.class_names == ("ant", "bee")
    decoded = sorted((tmp_path / "cache").glob("images-*.npy"))
    assert len(decoded) == 2
    stamp = decoded[0].stat().st_mtime_ns
    again = DataSource(config, cache_dir=tmp_path / "cache")
    assert again.fingerprint == data.fingerprint and decoded[0].stat().st_mtime_ns == stamp  # reused
    np.testing.assert_array_equal(again.split("test").inputs, data.split("test").inputs)


def test_a_corrupt_image_is_named(tmp_path):
    _image_folder(tmp_path / "img", {"train": ["ant"], "test": ["ant"]})
    (tmp_path / "img" / "train" / "ant" / "1.png").write_bytes(b"not a png")
    data = DataSource({"type": "image_folder", "root": str(tmp_path / "img"), "size": [8, 8]},
                      cache_dir=tmp_path / "cache")
    with pytest.raises(DataError, match=r"corrupt image .*train/ant/1.png"):
        data.split("train")


def test_train_and_test_class_folders_that_differ_are_refused(tmp_path):
    _image_folder(tmp_path / "img", {"train": ["ant", "bee"], "test": ["ant", "wasp"]})
    data = DataSource({"type": "image_folder", "root": str(tmp_path / "img"), "size": [8, 8]},
                      cache_dir=tmp_path / "cache")
    with pytest.raises(DataError, match=r"class folders differ \(only in train: \['bee'\], only in test: \['wasp'\]\)"):
        data.split("train")


def test_unknown_data_type_is_one_line():
    from edgekd.config import parse_config
    from edgekd.errors import ConfigError

    with pytest.raises(ConfigError, match="data: unknown data source type 'folders'; known: idx, arrays"):
        parse_config({"name": "x", "data": {"type": "folders"}, "stages": [{"type": "teacher"}]})
