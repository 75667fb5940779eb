"""`edgekd export`: one model to ONNX and TFLite files, each checked for parity, without a pipeline."""

import json

import pytest
from click.testing import CliRunner

from edgekd.cli import main
from edgekd.export.single_model import table_lines

SUBSET = "{type: idx, train_subset: 600, test_subset: 300}"
FOUR_FORMATS = "onnx_fp32,onnx_int8,tflite_fp32,tflite_int8"

BRANCHY_PY = '''
from torch import nn


class Branchy(nn.Module):
    """A data-dependent branch: torch.export (and so PT2E int8) refuses it."""

    def __init__(self, num_classes):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                                 nn.Flatten(), nn.Linear(16, num_classes))

    def forward(self, x):
        y = self.net(x)
        return y if y.sum() > 0 else -y


def branchy(num_classes: int):
    return Branchy(num_classes)
'''


@pytest.mark.slow
def test_shipped_teacher_four_formats(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["export", "fmnist_teacher", "--checkpoint", "models/fmnist_teacher.safetensors",
                                       "--data", SUBSET, "--formats", FOUR_FORMATS, "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "export.json").read_text())
    rows = {row["format"]: row for row in report["rows"]}
    assert list(rows) == FOUR_FORMATS.split(",")
    assert all(row["status"] == "ok" for row in rows.values()), [r.get("reason") for r in rows.values()]
    assert report["test_samples"] == 300 and report["calibration_samples"] == 512
    assert report["pytorch_accuracy"] > 0.9
    for fmt in ("onnx_fp32", "tflite_fp32"):
        assert rows[fmt]["parity_max_abs"] < 1e-4 and rows[fmt]["reference"] == "pytorch fp32"
    for fmt in ("onnx_int8", "tflite_int8"):
        assert rows[fmt]["top1_agreement"] >= 0.98 and rows[fmt]["reference"].startswith("pytorch int8")
        assert rows[fmt]["fp32_top1_agreement"] >= 0.98
        assert rows[fmt]["size_bytes"] < rows[fmt.replace("int8", "fp32")]["size_bytes"] / 3
    from edgekd.export.input_spec_files import read_input_spec

    for row in rows.values():
        spec = read_input_spec(out / row["file"])
        assert spec.shape == (1, 28, 28) and spec.class_names[0] == "T-shirt/top"
    lines = result.output.splitlines()
    table = [line for line in lines if line.split() and (line.split()[0] in rows or line.startswith("format"))]
    assert table and all(len(line) <= 100 for line in table)  # other lines name tmp paths of any length
    assert sum(line.split()[0] in rows and line.split()[-1] == "ok" for line in lines if line.strip()) == 4


def test_model_as_mapping_with_its_checkpoint(tmp_path):
    spec = "{name: fmnist_teacher, checkpoint: models/fmnist_teacher.safetensors}"
    result = CliRunner().invoke(main, ["export", spec, "--data", "{type: idx, train_subset: 64, test_subset: 64}",
                                       "--formats", "onnx_fp32", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    row = json.loads((tmp_path / "export.json").read_text())["rows"][0]
    assert row["file"] == "fmnist_teacher_fp32.onnx" and row["parity_max_abs"] < 1e-4 and row["accuracy"] > 0.85


def test_failed_conversion_is_a_row_and_exit_3(tmp_path, tiny_data):
    """A model torch.export cannot trace: no int8 (row with the reason), fp32 ONNX still made."""
    (tmp_path / "branchy.py").write_text(BRANCHY_PY)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["export", f"file:{tmp_path / 'branchy.py'}:branchy", "--data", f"{{type: idx, data_dir: {tiny_data}}}",
               "--formats", "onnx_fp32,onnx_int8", "--out", str(out)])
    assert result.exit_code == 3, result.output
    rows = {row["format"]: row for row in json.loads((out / "export.json").read_text())["rows"]}
    assert rows["onnx_fp32"]["status"] == "ok"
    assert rows["onnx_int8"]["status"] == "failed" and "data-dependent" in rows["onnx_int8"]["reason"]
    assert (out / "branchy_int8.error.txt").is_file()
    assert "reason: GuardOnDataDependentSymNode" in result.stdout
    assert "def forward" not in result.stderr  # torch's printed partial graph is dropped


@pytest.mark.parametrize("args, expected", [
    (["nosuch:thing"], "error: model: unknown model source 'nosuch'"),
    (["models/fmnist_teacher.safetensors"], "is a weights file"),
    (["onnx:teacher.onnx"], "ONNX file teacher.onnx not found"),
    (["fmnist_teacher", "--checkpoint", "missing.safetensors"], "checkpoint missing.safetensors not found"),
    (["fmnist_teacher", "--formats", "onnx_fp32,coreml"], "unknown format 'coreml'"),
    (["fmnist_teacher", "--data", "arrays:missing.npz:NHW"], "arrays file missing.npz not found"),
    (["fmnist_teacher", "--data", "{type: idx, train_subset: [}"], "not a YAML mapping"),
])
def test_bad_spec_is_one_line_exit_2(tmp_path, args, expected):
    result = CliRunner().invoke(main, ["export", *args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
    assert not (tmp_path / "out").exists()


def test_table_fits_100_columns_and_flags_disagreement():
    rows = [{"format": "onnx_fp32", "file": "a_very_long_model_name_that_goes_on_and_on_fp32.onnx", "status": "ok",
             "size_bytes": 3_400_000, "parity_max_abs": 2.0, "top1_agreement": 0.5, "accuracy": 0.4,
             "warning": "the file's top-1 class differs from its PyTorch model's on 50.00 % of test samples"},
            {"format": "tflite_int8", "status": "failed", "reason": "RuntimeError: " + "x" * 200}]
    lines = table_lines({"rows": rows})
    table = [line for line in lines if line.split() and (line.split()[0] in rows or line.startswith("format"))]
    assert table and all(len(line) <= 100 for line in table)  # other lines name tmp paths of any length
    assert lines[2].startswith("onnx_fp32") and "3.2 MB" in lines[2] and "50.00 %" in lines[2]
    assert lines[3].startswith("  warning: ") and lines[5].startswith("  reason: RuntimeError")
