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


def test_a_row_per_batch_size_and_fixed_batch_files_say_why(tmp_path):
    """ONNX (dynamic batch) is timed at each batch size; a batch-1 TFLite file is skipped above 1."""
    import torch

    from edgekd.bench.files import bench_files
    from edgekd.export.onnx_export import export_onnx
    from edgekd.export.tflite_export import export_tflite_fp32
    from edgekd.zoo import build_model

    torch.manual_seed(0)
    model = build_model("fmnist_student").eval()
    inputs = np.random.default_rng(0).normal(size=(16, 1, 28, 28)).astype(np.float32)
    export_onnx(model, inputs, tmp_path / "student.onnx")
    export_tflite_fp32(model, inputs, tmp_path / "student.tflite")
    data = type("Data", (), {"split": lambda self, name: Dataset(inputs=inputs, labels=np.zeros(16, np.int64))})()
    config = BenchConfig(batch_sizes=[1, 8], min_runs=200, min_seconds=0.01, warmup=2)
    rows = bench_files([tmp_path / "student.onnx", tmp_path / "student.tflite"], config, data)["rows"]
    by_key = {(r["format"], r["batch_size"]): r for r in rows}
    assert set(by_key) == {("onnx", 1), ("onnx", 8), ("tflite", 1), ("tflite", 8)}
    assert by_key[("onnx", 8)]["status"] == "ok" and by_key[("onnx", 8)]["throughput_per_s"] > 0
    assert by_key[("onnx", 8)]["latency_ms_p50"] > 0
    assert by_key[("tflite", 1)]["status"] == "ok"
    skipped = by_key[("tflite", 8)]
    assert skipped["status"] == "skipped" and "batch is fixed at 1" in skipped["reason"]
