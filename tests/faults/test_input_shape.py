"""A model fed data of the wrong shape says so, in every runtime, instead of crashing inside it."""

import numpy as np
import pytest
import torch

from edgekd.errors import DataError
from edgekd.export.onnx_export import export_onnx
from edgekd.export.tflite_export import export_tflite_fp32
from edgekd.runtimes.litert_rt import LiteRTRuntime
from edgekd.runtimes.onnxruntime_rt import OrtRuntime
from edgekd.runtimes.torch_ref import TorchRuntime

RGB = np.zeros((2, 3, 32, 32), np.float32)
GREY = np.zeros((2, 1, 28, 28), np.float32)


@pytest.fixture(scope="module")
def rgb_model():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(10)).eval()


def test_torch(rgb_model):
    rgb_model(torch.from_numpy(RGB))  # materialise the lazy layer
    with pytest.raises(DataError, match=r"cannot take inputs of shape \['N', 1, 28, 28\]"):
        TorchRuntime(rgb_model).run(GREY)


def test_onnx(rgb_model, tmp_path):
    rgb_model(torch.from_numpy(RGB))
    export_onnx(rgb_model, RGB, tmp_path / "rgb.onnx")
    with pytest.raises(DataError, match=r"rgb.onnx expects inputs of shape \['N', 3, 32, 32\]"):
        OrtRuntime(tmp_path / "rgb.onnx").run(GREY)


def test_tflite(rgb_model, tmp_path):
    rgb_model(torch.from_numpy(RGB))
    export_tflite_fp32(rgb_model, RGB, tmp_path / "rgb.tflite")
    with pytest.raises(DataError, match=r"rgb.tflite expects inputs of shape"):
        LiteRTRuntime(tmp_path / "rgb.tflite").run(GREY[:1])
