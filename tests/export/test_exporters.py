"""Every export route, on a tiny model, against the PyTorch reference in the real runtimes."""

import numpy as np
import pytest
import torch

from edgekd.export.onnx_export import export_onnx, integer_op_share
from edgekd.export.tflite_export import cast_weights_fp16, export_tflite_fp32, export_tflite_int8
from edgekd.parity import parity
from edgekd.compress.quantization import calibrate, load_calibrated, save_calibration
from edgekd.runtimes.base import predict
from edgekd.runtimes.litert_rt import LiteRTRuntime
from edgekd.runtimes.onnxruntime_rt import OrtRuntime, ProviderUnavailable
from edgekd.runtimes.torch_ref import TorchRuntime
from edgekd.zoo import build_model


@pytest.fixture(scope="module")
def model_and_data():
    torch.manual_seed(0)
    model = build_model("fmnist_student", width=4).eval()
    data = np.random.default_rng(0).normal(size=(64, 1, 28, 28)).astype(np.float32)
    return model, data, TorchRuntime(model).run(data)


@pytest.fixture(scope="module")
def quantized(model_and_data, tmp_path_factory):
    model, data, _ = model_and_data
    path = tmp_path_factory.mktemp("q") / "calibration.safetensors"
    save_calibration(calibrate(model, data[:32]), path)
    return path


def test_onnx_fp32(model_and_data, tmp_path):
    model, data, reference = model_and_data
    export_onnx(model, data, tmp_path / "m.onnx")
    assert parity(reference, predict(OrtRuntime(tmp_path / "m.onnx"), data))["parity_max_abs"] < 1e-5


def test_tflite_fp32_and_fp16(model_and_data, tmp_path):
    model, data, reference = model_and_data
    export_tflite_fp32(model, data, tmp_path / "m.tflite")
    cast_weights_fp16(tmp_path / "m.tflite", tmp_path / "m16.tflite")
    assert parity(reference, predict(LiteRTRuntime(tmp_path / "m.tflite"), data))["parity_max_abs"] < 1e-5
    assert parity(reference, predict(LiteRTRuntime(tmp_path / "m16.tflite"), data))["parity_max_abs"] < 1e-2
    assert (tmp_path / "m16.tflite").stat().st_size < 0.7 * (tmp_path / "m.tflite").stat().st_size


def test_saved_calibration_rebuilds_the_same_quantized_model(model_and_data, quantized):
    from edgekd.compress.quantization import convert

    model, data, _ = model_and_data
    original = TorchRuntime(convert(calibrate(model, data[:32]))).run(data)
    rebuilt = TorchRuntime(load_calibrated(model, quantized, data)).run(data)
    assert (original == rebuilt).all()


def test_int8_onnx_and_tflite_follow_the_quantized_model(quantized, model_and_data, tmp_path):
    model, data, _ = model_and_data
    reference = TorchRuntime(load_calibrated(model, quantized, data)).run(data)
    export_onnx(load_calibrated(model, quantized, data), data, tmp_path / "q.onnx")
    export_tflite_int8(load_calibrated(model, quantized, data), data, tmp_path / "q.tflite")
    onnx_parity = parity(reference, predict(OrtRuntime(tmp_path / "q.onnx"), data))
    tflite = LiteRTRuntime(tmp_path / "q.tflite")
    tflite_parity = parity(reference, predict(tflite, data))
    assert onnx_parity["top1_agreement"] >= 0.95 and tflite_parity["top1_agreement"] >= 0.95
    assert tflite.input_dtype == np.int8
    ops = integer_op_share(tmp_path / "q.onnx", tmp_path / "opt.onnx")
    assert "QLinearConv" in ops["integer_ops"] and not ops["float_compute_ops"]


def test_missing_execution_provider_is_an_error(model_and_data, tmp_path):
    model, data, _ = model_and_data
    export_onnx(model, data, tmp_path / "m.onnx")
    with pytest.raises(ProviderUnavailable, match="no TensorrtExecutionProvider"):
        OrtRuntime(tmp_path / "m.onnx", provider="TensorrtExecutionProvider")


def test_onnx_export_from_a_single_sample_keeps_a_dynamic_batch(tmp_path):
    import numpy as np
    import onnxruntime as ort
    import torch

    from edgekd.export.onnx_export import export_onnx
    from edgekd.zoo import build_model

    torch.manual_seed(0)
    model = build_model("fmnist_student").eval()
    export_onnx(model, np.zeros((1, 1, 28, 28), np.float32), tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    assert session.run(None, {"input": np.zeros((5, 1, 28, 28), np.float32)})[0].shape == (5, 10)
