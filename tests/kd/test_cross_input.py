"""Cross-input KD: the student reads a transformed view (fewer channels, lower resolution) of the
sample the teacher reads, and every later stage feeds it that view."""

import json

import numpy as np
import onnx
import pytest

from edgekd.config import parse_config
from edgekd.data.input_spec import InputSpec
from edgekd.data.input_transform import InputTransform, apply_transform, for_model, transformed_spec
from edgekd.data.prepare import Dataset
from edgekd.errors import ConfigError
from edgekd.pipeline import run
from tests.int8_cpu import xfail_without_vnni

IMAGES = InputSpec(shape=(3, 4, 4), layout="NCHW", mean=(0.1, 0.2, 0.3), std=(1.0, 2.0, 3.0))
SERIES = InputSpec(shape=(12, 25), layout="NCL", mean=tuple(range(12)), std=(1.0,) * 12)


def test_channels_then_area_resize_by_hand():
    spec = transformed_spec(IMAGES, InputTransform(channels=[2, 0], resize=[2, 2]))
    assert spec.shape == (2, 2, 2) and spec.mean == (0.3, 0.1) and spec.std == (3.0, 1.0)
    x = np.arange(48, dtype=np.float32).reshape(1, 3, 4, 4)
    got = apply_transform(spec.extra["input_transform"], x)
    # channel 2 holds 32..47; its top-left 2×2 block is 32, 33, 36, 37 -> mean 34.5
    assert got.shape == (1, 2, 2, 2)
    np.testing.assert_allclose(got[0, 0], [[34.5, 36.5], [42.5, 44.5]])
    np.testing.assert_allclose(got[0, 1], [[2.5, 4.5], [10.5, 12.5]])  # channel 0: 0, 1, 4, 5 -> 2.5


def test_a_model_without_a_transform_reads_the_data_as_it_is():
    data = Dataset(inputs=np.zeros((2, 12, 25), np.float32), labels=np.zeros(2, np.int64))
    assert for_model(data, SERIES) is data
    picked = for_model(data, transformed_spec(SERIES, InputTransform(channels=[0, 5])))
    assert picked.inputs.shape == (2, 2, 25) and picked.labels is data.labels


@pytest.mark.parametrize("transform, message", [
    ({"channels": [0, 12]}, "channel 12 does not exist; the data has 12"),
    ({"resize": [14, 14]}, r"resize: \[14, 14\] does not fit NCL input \(12, 25\); it takes \[length\]"),
    ({"resize": [50]}, "larger than the data"),
])
def test_a_transform_that_does_not_fit_the_data_is_one_line(transform, message):
    with pytest.raises(ConfigError, match=message) as caught:
        transformed_spec(SERIES, InputTransform(**transform), "student")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("student.input_transform")


def _pipeline(tmp_path, student, after=()):
    return parse_config({
        "name": "cross", "artifacts_dir": str(tmp_path / "artifacts"),
        "data": {"train_subset": 2000, "test_subset": 300},
        "stages": [{"type": "teacher", "checkpoint": "models/fmnist_teacher.safetensors"},
                   {"type": "cache"},
                   {"type": "distill", "student": student, "train": {"epochs": 1}, "baseline_seeds": [0]},
                   *after],
    })


def test_empty_transform_and_teacher_transform_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="input_transform needs `channels`, `resize` or both"):
        _pipeline(tmp_path, {"name": "fmnist_student", "input_transform": {}})
    with pytest.raises(ConfigError, match="input_transform is for students"):
        parse_config({"name": "t", "stages": [{"type": "teacher", "model": {
            "name": "fmnist_teacher", "input_transform": {"resize": [14, 14]}}}]})


def test_low_resolution_student_exports_and_benchmarks_on_its_own_view(tmp_path):
    after = [{"type": "ptq", "calibration_samples": 128},
             {"type": "export_onnx", "formats": ["fp32", "int8"]},
             {"type": "bench", "models": ["teacher", "student"], "min_runs": 200, "min_seconds": 0.0, "warmup": 2},
             {"type": "report"}]
    result = run(_pipeline(tmp_path, {"name": "fmnist_student", "input_transform": {"resize": [14, 14]}}, after))
    distill = result.artifacts["distill"].metrics
    assert distill["input_spec"]["shape"] == [1, 14, 14]
    assert distill["model_kwargs"]["input_size"] == [14, 14]
    assert distill["accuracy"] > 0.5 and set(distill["kd_vs_ce"]) == {"kd", "ce", "epochs"}
    exports = {(r["model"], r["format"]): r for r in result.artifacts["export_onnx"].metrics["exports"]}
    assert all(r["status"] == "ok" for r in exports.values())
    assert exports["student", "onnx_fp32"]["parity_max_abs"] <= 1e-4
    assert exports["student", "onnx_int8"]["top1_agreement"] >= 0.95
    student_file = onnx.load(result.artifacts["export_onnx"].path / exports["student", "onnx_fp32"]["file"])
    dims = [d.dim_value for d in student_file.graph.input[0].type.tensor_type.shape.dim[1:]]
    assert dims == [1, 14, 14]  # the device feeds the small image
    declared = json.loads(next(p.value for p in student_file.metadata_props if p.key == "edgekd.input_spec"))
    assert declared["extra"]["input_transform"]["resize"] == [14, 14]
    rows = json.loads((result.artifacts["bench"].path / "bench.json").read_text())["rows"]
    student_rows = [r for r in rows if r["model"] == "student"]
    assert student_rows and all(r["status"] == "ok" and r["accuracy"] > 0.5 for r in student_rows)
    pytorch = next(r for r in student_rows if r["format"] == "pytorch")
    assert pytorch["accuracy"] == pytest.approx(distill["accuracy"])  # the same view as in training

    # `edgekd bench FILE` outside the pipeline: the file's spec says how to feed it the full data
    from edgekd.bench.files import bench_files
    from edgekd.context import DataSource
    from edgekd.stages.bench import BenchConfig

    path = result.artifacts["export_onnx"].path / exports["student", "onnx_fp32"]["file"]
    data = DataSource({"dataset": "fashion_mnist", "test_subset": 300}, cache_dir=tmp_path / ".data")
    row, = bench_files([path], BenchConfig(min_runs=200, min_seconds=0.0, warmup=2), data)["rows"]
    assert row["status"] == "ok" and row["accuracy"] == pytest.approx(pytorch["accuracy"])


@xfail_without_vnni
def test_channel_subset_student_of_a_sensor_teacher_through_qat(tmp_path):
    result = run(parse_config({
        "name": "sensor", "artifacts_dir": str(tmp_path / "artifacts"),
        "data": {"type": "arrays", "path": "examples/data/japanese_vowels.npz", "layout": "NCL",
                 "mean": "auto", "std": "auto"},
        "stages": [{"type": "teacher", "model": "file:examples/models/sensor.py:teacher",
                    "train": {"epochs": 3, "batch_size": 32, "alpha": 0.0}},
                   {"type": "cache"},
                   {"type": "distill", "train": {"epochs": 3, "batch_size": 32}, "baseline_seeds": [],
                    "student": {"name": "file:examples/models/sensor.py:student",
                                "input_transform": {"channels": [0, 2, 4, 6]}}},
                   {"type": "qat", "train": {"epochs": 1, "batch_size": 32}, "calibration_samples": 64},
                   {"type": "export_onnx", "models": ["student"], "formats": ["fp32", "int8"]}],
    }))
    distill = result.artifacts["distill"].metrics
    assert distill["input_spec"]["shape"] == [4, 25] and distill["model_kwargs"]["in_channels"] == 4
    assert result.artifacts["qat"].metrics["accuracy"] > 0.3  # fine-tuned on the 4-channel view
    exports = {r["format"]: r for r in result.artifacts["export_onnx"].metrics["exports"]}
    assert exports["onnx_fp32"]["status"] == "ok" and exports["onnx_fp32"]["parity_max_abs"] <= 1e-4
    assert exports["onnx_int8"]["status"] == "ok" and exports["onnx_int8"]["top1_agreement"] >= 0.95
