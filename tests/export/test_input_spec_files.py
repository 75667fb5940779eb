"""The input spec round-trips through real exported ONNX and TFLite files."""

import json

import numpy as np
import pytest
import torch

from edgekd.data.fashion_mnist import CLASS_NAMES, MEAN, STD
from edgekd.data.input_spec import METADATA_KEY, InputSpec
from edgekd.errors import ArtifactError
from edgekd.export.input_spec_files import (read_input_spec, sidecar_path, write_onnx_input_spec,
                                            write_tflite_sidecar)
from edgekd.export.onnx_export import export_onnx
from edgekd.export.tflite_export import export_tflite_fp32, export_tflite_int8
from edgekd.zoo import FashionStudent

SPEC = InputSpec(shape=(1, 28, 28), mean=(MEAN,), std=(STD,), class_names=CLASS_NAMES,
                 preprocessing="x/255, then (x-mean)/std", extra={"source": "fashion_mnist"})


@pytest.fixture(scope="module")
def student():
    torch.manual_seed(0)
    return FashionStudent().eval(), np.random.default_rng(0).normal(size=(8, 1, 28, 28)).astype(np.float32)


def test_onnx_carries_the_spec_and_still_runs(student, tmp_path):
    import onnxruntime as ort

    model, data = student
    path = tmp_path / "m.onnx"
    export_onnx(model, data, path)
    assert read_input_spec(path) is None
    before = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": data})[0]
    write_onnx_input_spec(path, SPEC)
    write_onnx_input_spec(path, SPEC)  # writing again replaces the entry instead of adding a second
    assert read_input_spec(path) == SPEC
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert json.loads(session.get_modelmeta().custom_metadata_map[METADATA_KEY]) == SPEC.to_dict()
    assert (session.run(None, {"input": data})[0] == before).all()
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob("*.data"))


def test_tflite_sidecar_says_how_to_feed_the_file(student, tmp_path):
    model, data = student
    path = tmp_path / "m.tflite"
    export_tflite_fp32(model, data, path)
    assert read_input_spec(path) is None
    assert write_tflite_sidecar(path, SPEC) == sidecar_path(path) == tmp_path / "m.tflite.json"
    assert read_input_spec(path) == SPEC
    sidecar = json.loads(sidecar_path(path).read_text())
    assert sidecar[METADATA_KEY] == SPEC.to_dict()
    # litert-torch keeps the NCHW float input (through an inserted transpose)
    assert (sidecar["input_layout_in_file"], sidecar["input_dtype_in_file"], sidecar["quantization"]) == (
        "NCHW", "float32", None)


def test_int8_tflite_sidecar_has_the_input_quantization(student, tmp_path):
    from edgekd.compress.quantization import calibrate, load_calibrated, save_calibration

    model, data = student
    save_calibration(calibrate(model, data), tmp_path / "calibration.safetensors")
    path = tmp_path / "q.tflite"
    export_tflite_int8(load_calibrated(model, tmp_path / "calibration.safetensors", data), data, path)
    write_tflite_sidecar(path, SPEC)
    sidecar = json.loads(sidecar_path(path).read_text())
    assert sidecar["input_dtype_in_file"] == "int8"
    assert sidecar["quantization"]["scale"] > 0 and -128 <= sidecar["quantization"]["zero_point"] <= 127


def test_channels_last_file_and_a_spec_that_does_not_fit(tmp_path):
    """A file whose input is NHWC records NHWC; a spec of another shape is refused, not written."""
    class ChannelsLast(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return self.conv(x.permute(0, 3, 1, 2))

    path = tmp_path / "nhwc.tflite"
    export_tflite_fp32(ChannelsLast().eval(), np.zeros((1, 16, 16, 3), np.float32), path)
    write_tflite_sidecar(path, InputSpec(shape=(3, 16, 16)))
    assert json.loads(sidecar_path(path).read_text())["input_layout_in_file"] == "NHWC"
    sidecar_path(path).unlink()
    with pytest.raises(ArtifactError, match="neither the input spec"):
        write_tflite_sidecar(path, SPEC)
    assert not sidecar_path(path).exists()


def test_a_broken_sidecar_is_an_artifact_error(tmp_path):
    (tmp_path / "m.tflite").write_bytes(b"")
    sidecar_path(tmp_path / "m.tflite").write_text("{not json")
    with pytest.raises(ArtifactError, match="not JSON"):
        read_input_spec(tmp_path / "m.tflite")
