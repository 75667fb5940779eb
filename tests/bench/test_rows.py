import numpy as np

from edgekd.bench.rows import bench_row
from edgekd.context import Dataset
from edgekd.stages.bench import BenchConfig


def test_unloadable_model_is_a_failed_row_not_a_crash(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not an onnx file")
    candidate = {"model": "student", "format": "onnx_fp32", "runtime": "onnxruntime", "status": "ok",
                 "path": str(broken)}
    test = Dataset(inputs=np.zeros((4, 1, 28, 28), np.float32), labels=np.zeros(4, np.int64))
    row = bench_row(candidate, test, BenchConfig())
    assert row["status"] == "failed" and row["reason"].startswith(("InvalidProtobuf", "Fail", "RuntimeException"))
    assert row["target"] == "ort-cpu" and row["accuracy"] is None


def test_requested_provider_missing_is_a_failed_row(tmp_path):
    candidate = {"model": "student", "format": "onnx_fp32", "runtime": "onnxruntime", "status": "ok",
                 "path": str(tmp_path / "x.onnx"), "provider": "CUDAExecutionProvider"}
    test = Dataset(inputs=np.zeros((1, 1, 28, 28), np.float32), labels=np.zeros(1, np.int64))
    row = bench_row(candidate, test, BenchConfig())
    assert row["status"] == "failed" and "no CUDAExecutionProvider" in row["reason"]
    assert row["target"] == "ort-cuda"
