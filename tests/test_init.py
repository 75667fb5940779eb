"""`edgekd init`: a valid, commented pipeline from three specs (flags or prompts), one-line errors for
bad specs, and a generated pipeline that runs end to end on the user's own model file and arrays."""

import json

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from edgekd.cli import main
from edgekd.config import load_config

MODELS_PY = '''
from torch import nn


def teacher(num_classes: int, in_channels: int = 1) -> nn.Module:
    return nn.Sequential(nn.Conv2d(in_channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, num_classes))


def student(num_classes: int, in_channels: int = 1) -> nn.Module:
    return nn.Sequential(nn.Conv2d(in_channels, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, num_classes))
'''


@pytest.fixture
def user_files(tmp_path):
    """A user's model file and a learnable 8x8 arrays dataset (class k lights up quadrant k)."""
    models = tmp_path / "my_models.py"
    models.write_text(MODELS_PY)
    rng = np.random.default_rng(0)

    def split(count):
        labels = rng.integers(0, 4, size=count)
        images = rng.integers(0, 80, size=(count, 8, 8)).astype(np.uint8)
        for image, label in zip(images, labels):
            row, col = divmod(int(label), 2)
            image[4 * row:4 * row + 4, 4 * col:4 * col + 4] += 150
        return images, labels

    (x_train, y_train), (x_test, y_test) = split(384), split(128)
    data = tmp_path / "quadrants.npz"
    np.savez(data, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return models, data


def init_args(models, data, out):
    return ["init", "--teacher", f"file:{models}:teacher", "--student", f"file:{models}:student",
            "--data", f"arrays:{data}:NHW", "--out", str(out)]


def test_flags_write_a_valid_commented_pipeline(user_files, tmp_path):
    models, data = user_files
    out = tmp_path / "mine.yaml"
    result = CliRunner().invoke(main, init_args(models, data, out))
    assert result.exit_code == 0, result.output
    assert f"edgekd run {out}" in result.output and "384 samples" in result.output
    config = load_config(out)
    assert [s.type for s in config.stages] == ["teacher", "cache", "distill", "ptq", "export_onnx",
                                               "export_tflite", "bench", "report"]
    teacher, _, distill, _, onnx, tflite, bench, _ = config.stages
    assert teacher.train.epochs == 30 and teacher.train.alpha == 0.0  # no checkpoint: trained here
    assert (distill.train.temperature, distill.train.alpha, distill.baseline_seeds) == (4.0, 0.5, [0, 1, 2])
    assert onnx.formats == ["fp32", "int8"] and tflite.formats == ["fp32", "int8"] and bench.threads == 1
    assert config.data.layout == "NHW" and config.data.path == str(data)
    text = out.read_text()
    assert "RUNS that file" in text and text.count("  # ") >= 8  # a comment per stage


def test_prompts_ask_for_the_three_specs(user_files, tmp_path):
    models, data = user_files
    out = tmp_path / "prompted.yaml"
    answers = f"file:{models}:teacher\nfile:{models}:student\narrays:{data}:NHW\n"
    result = CliRunner().invoke(main, ["init", "--out", str(out)], input=answers)
    assert result.exit_code == 0, result.output
    assert "Teacher model" in result.output and "Student model" in result.output and "Data" in result.output
    flags = tmp_path / "flags.yaml"
    assert CliRunner().invoke(main, init_args(models, data, flags)).exit_code == 0
    strip = lambda text: [line for line in text.splitlines() if not line.startswith(("#", "name:"))]  # noqa: E731
    assert strip(out.read_text()) == strip(flags.read_text())


def test_teacher_checkpoint_means_no_training_and_mapping_data(tmp_path):
    out = tmp_path / "fm.yaml"
    result = CliRunner().invoke(main, ["init", "--teacher", "fmnist_teacher", "--student", "fmnist_student",
                                       "--teacher-checkpoint", "models/fmnist_teacher.safetensors",
                                       "--data", "{type: idx, train_subset: 2000}", "--out", str(out)])
    assert result.exit_code == 0, result.output
    raw = yaml.safe_load(out.read_text())
    assert raw["stages"][0] == {"type": "teacher", "model": {"name": "fmnist_teacher",
                                                             "checkpoint": "models/fmnist_teacher.safetensors"}}
    assert raw["data"] == {"type": "idx", "train_subset": 2000}
    assert raw["stages"][2]["train"]["epochs"] == 30 and raw["stages"][2]["train"]["batch_size"] == 64
    assert "RUNS" not in out.read_text()  # no user code named


@pytest.mark.parametrize("option, value, expected", [
    ("--teacher", "nosuch:thing", "error: teacher: unknown model source 'nosuch'"),
    ("--student", "file:missing.py:student", "error: student 'file:missing.py:student': model file missing.py not found"),
    ("--student", "FILE", "defines no top-level 'nope'"),
    ("--data", "arrays:missing.npz:NHW", "error: arrays file missing.npz not found"),
    ("--data", "arrays:DATA:NWH", "error: data spec 'arrays:"),
    ("--data", "{type: arrays, path: DATA}", "data.layout: Field required"),
    ("--data", "parquet:x.parquet", "unknown source 'parquet'"),
])
def test_bad_spec_is_one_line_exit_2(user_files, tmp_path, option, value, expected):
    models, data = user_files
    args = init_args(models, data, tmp_path / "bad.yaml")
    value = value.replace("FILE", f"file:{models}:nope").replace("DATA", str(data))
    args[args.index(option) + 1] = value
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
    assert not (tmp_path / "bad.yaml").exists() and not list(tmp_path.glob(".bad.yaml*"))


def test_existing_file_needs_force(user_files, tmp_path):
    models, data = user_files
    out = tmp_path / "mine.yaml"
    out.write_text("mine\n")
    result = CliRunner().invoke(main, init_args(models, data, out))
    assert result.exit_code == 2 and "--force" in result.output and out.read_text() == "mine\n"
    assert CliRunner().invoke(main, init_args(models, data, out) + ["--force"]).exit_code == 0


@pytest.mark.e2e
def test_init_then_run_end_to_end(user_files, tmp_path):
    """The generated YAML, reduced only with --set, runs every stage and writes a report."""
    models, data = user_files
    out = tmp_path / "mine.yaml"
    assert CliRunner().invoke(main, init_args(models, data, out)).exit_code == 0
    reduced = ["stages.0.train.epochs=3", "stages.2.train.epochs=3", "stages.2.baseline_seeds=[]",
               "stages.6.min_seconds=0.02"]
    result = CliRunner().invoke(main, ["run", str(out), "--artifacts", str(tmp_path / "artifacts"),
                                       *(arg for pair in reduced for arg in ("--set", pair))])
    assert result.exit_code == 0, result.output
    reports = list((tmp_path / "artifacts").rglob("report.json"))
    assert len(reports) == 1 and (reports[0].parent / "report.md").is_file()
    rows = {(r["model"], r["format"]): r for r in json.loads(reports[0].read_text())["rows"]
            if r["target"] in ("torch-cpu", "ort-cpu", "litert")}
    assert rows[("teacher", "pytorch")]["accuracy"] > 0.9
    for fmt in ("onnx_fp32", "onnx_int8", "tflite_fp32", "tflite_int8"):
        assert rows[("student", fmt)]["status"] == "ok", rows[("student", fmt)].get("reason")


@pytest.mark.parametrize("text, mapping", [
    ("idx", {"type": "idx"}),
    ("idx:/data/fm", {"type": "idx", "data_dir": "/data/fm"}),
    ("arrays:d.npz:NHWC", {"type": "arrays", "path": "d.npz", "layout": "NHWC"}),
    ("arrays:d.npz:NHW:16", {"type": "arrays", "path": "d.npz", "layout": "NHW", "divide_by": 16}),
    ("image_folder:photos:64x48:1", {"type": "image_folder", "root": "photos", "size": [64, 48], "channels": 1}),
    ("csv:a:b.csv:label", {"type": "csv", "path": "a:b.csv", "label": "label"}),
    ("{type: csv, path: t.csv, label: y}", {"type": "csv", "path": "t.csv", "label": "y"}),
])
def test_data_short_forms(text, mapping):
    from edgekd.data.cli_spec import data_mapping

    assert data_mapping(text) == mapping


def test_image_folder_without_train_dir_is_split_here(tmp_path):
    from PIL import Image

    from edgekd.data.cli_spec import parse_data_spec, preflight

    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        for i in range(5):
            Image.new("L", (8, 8), 40 * i).save(tmp_path / name / f"{i}.png")
    mapping, config = parse_data_spec(f"image_folder:{tmp_path}:8x8:1")
    assert mapping["train_dir"] is None and preflight(config) == 8  # 80 % of the 10 images
