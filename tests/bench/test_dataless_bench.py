"""`edgekd bench FILES...` on files no test data fits: random inputs from each file's signature."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

from edgekd.cli import main

FAST = ["--min-runs", "200", "--min-seconds", "0"]


class PixelNet(nn.Module):
    """What an app feeds a camera model: uint8 NHWC pixels, scaled and transposed inside the model."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(8, 5))

    def forward(self, pixels):
        return self.body(pixels.permute(0, 3, 1, 2).float() / 255.0)


class TokenNet(nn.Module):
    """Two int64 inputs, like a text classifier: token ids and an attention mask."""

    def __init__(self):
        super().__init__()
        self.embed, self.head = nn.Embedding(100, 16), nn.Linear(16, 3)

    def forward(self, input_ids, attention_mask):
        return self.head((self.embed(input_ids) * attention_mask.unsqueeze(-1).float()).mean(dim=1))


def _onnx(module, args, path, **kwargs):
    import warnings

    with warnings.catch_warnings():  # inputs sharing a Dim: "The axis name: batch will not be used"
        warnings.filterwarnings("ignore", ".*The axis name")
        torch.onnx.export(module.eval(), args, str(path), dynamo=True, external_data=False, opset_version=18,
                          verbose=False, **kwargs)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    import torchvision

    from edgekd.export.tflite_export import export_tflite_fp32

    folder = tmp_path_factory.mktemp("files")
    torch.manual_seed(0)
    mobilenet = torchvision.models.mobilenet_v3_small(weights=None)  # random init: fine for latency
    pixels, pixel_sample = PixelNet().eval(), torch.randint(0, 256, (1, 32, 32, 3), dtype=torch.uint8)
    export_tflite_fp32(pixels, pixel_sample.numpy(), folder / "pixels.tflite")
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
    ids = torch.randint(0, 100, (2, 8))
    return {
        "mobilenet": _onnx(mobilenet, (torch.randn(1, 3, 224, 224),), folder / "mobilenet_v3_small.onnx"),
        "pixels_tflite": folder / "pixels.tflite",
        "pixels_onnx": _onnx(pixels, (pixel_sample,), folder / "pixels.onnx"),
        "tokens": _onnx(TokenNet(), (ids, torch.ones_like(ids)), folder / "tokens.onnx",
                        input_names=["input_ids", "attention_mask"],
                        dynamic_shapes=({0: batch, 1: seq}, {0: batch, 1: seq})),
    }


@pytest.fixture(autouse=True)
def no_installed_data(tmp_path, monkeypatch):
    """The same outcome on machines with and without Fashion-MNIST installed."""
    monkeypatch.setenv("EDGEKD_FASHION_MNIST_DIR", str(tmp_path / "no-data"))


def _bench(args, out: Path):
    result = CliRunner().invoke(main, ["bench", *args, *FAST, "--out", str(out)])
    rows = json.loads((out / "report.json").read_text())["rows"] if result.exit_code in (0, 3) else None
    return result, rows


def test_imagenet_sized_onnx_gets_latency_rows(files, tmp_path):
    result, rows = _bench([str(files["mobilenet"]), "--batch-size", "1", "--batch-size", "2"], tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "mobilenet_v3_small.onnx: timed on random inputs" in result.output
    timed, skipped = rows
    assert timed["status"] == "ok" and timed["latency_ms_p50"] > 0 and timed["cold_start_ms"] > 0
    assert timed["runs"] >= 200 and timed["peak_rss_bytes"] > 0
    assert timed["size_bytes"] == files["mobilenet"].stat().st_size
    assert timed["reference"] == "random inputs x float32[1x3x224x224]"
    # no labels and nothing to compare with: empty, not made up
    assert timed["accuracy"] is None and timed["parity_max_abs"] is None and timed["top1_agreement"] is None
    assert skipped["status"] == "skipped" and "fixed at 1" in skipped["reason"]  # exported at batch 1
    assert (tmp_path / "out" / "report.html").read_text().count("<svg") >= 2


def test_uint8_nhwc_tflite_and_its_onnx_twin_agree(files, tmp_path):
    """Same signature (uint8 1x32x32x3), so the same random pixels, and parity between the runtimes."""
    result, rows = _bench([str(files["pixels_onnx"]), str(files["pixels_tflite"])], tmp_path / "out")
    assert result.exit_code == 0, result.output
    onnx_row, tflite_row = rows
    assert [r["status"] for r in rows] == ["ok", "ok"] and tflite_row["latency_ms_p50"] > 0
    assert onnx_row["parity_max_abs"] is None and "the parity reference" in onnx_row["reference"]
    assert "uint8[1x32x32x3]; parity vs pixels.onnx" in tflite_row["reference"]
    assert tflite_row["parity_max_abs"] < 1e-4 and tflite_row["top1_agreement"] == 1.0


def test_dynamic_sequence_dim_needs_a_shape(files, tmp_path):
    result = CliRunner().invoke(main, ["bench", str(files["tokens"]), *FAST, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "--shape input_ids=1x<seq> --shape attention_mask=1x<seq>" in lines[0]
    assert not (tmp_path / "out").exists()  # stopped before timing anything


def test_two_int64_inputs_with_shapes_at_two_batch_sizes(files, tmp_path):
    result, rows = _bench([str(files["tokens"]), "--shape", "input_ids=1x16", "--shape", "attention_mask=1x16",
                           "--batch-size", "1", "--batch-size", "4"], tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert [(r["status"], r["batch_size"]) for r in rows] == [("ok", 1), ("ok", 4)]
    assert rows[1]["reference"] == "random inputs input_ids int64[4x16], attention_mask int64[4x16]"
    assert rows[1]["throughput_per_s"] > 0 and rows[1]["accuracy"] is None


@pytest.mark.parametrize("shape, message", [
    ("inputs=1x16", "none of the files has"), ("input_ids=1x0", "positive dims"),
    ("input_ids=1x16x3", "has 2 dims, --shape gives 3")])
def test_bad_shape_options_are_one_line_errors(files, tmp_path, shape, message):
    result = CliRunner().invoke(main, ["bench", str(files["tokens"]), "--shape", shape, *FAST])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and message in lines[0]


def test_files_the_test_data_fits_still_get_accuracy(files, tiny_data, tmp_path, monkeypatch):
    """Data found without --data-dir: the student that fits it is scored, the token model is timed."""
    from edgekd.export.onnx_export import export_onnx
    from edgekd.zoo import FashionStudent

    monkeypatch.setenv("EDGEKD_FASHION_MNIST_DIR", str(tiny_data))
    export_onnx(FashionStudent().eval(), np.zeros((2, 1, 28, 28), np.float32), tmp_path / "student.onnx")
    result, rows = _bench([str(tmp_path / "student.onnx"), str(files["tokens"]), "--shape", "input_ids=1x8",
                           "--shape", "attention_mask=1x8"], tmp_path / "out")
    assert result.exit_code == 0, result.output
    student, tokens = rows
    assert student["accuracy"] is not None and tokens["accuracy"] is None
    assert "tokens.onnx: timed on random inputs" in result.output and "student.onnx:" not in result.output
