"""The emulated aarch64 target: deterministic instruction counts and parity with x86, or a clear skip.

Needs `make arm-setup` (CI runs it); without it the measuring tests are skipped and the bench row
test checks the row says how to set the emulator up."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from edgekd.bench.emulated_rows import emulated_rows
from edgekd.runtimes.qemu_aarch64 import EmulatorUnavailable, check_available, run_emulated
from edgekd.zoo import build_model

try:
    check_available()
    NOT_SET_UP = None
except EmulatorUnavailable as exc:
    NOT_SET_UP = str(exc)
needs_emulator = pytest.mark.skipif(NOT_SET_UP is not None, reason=NOT_SET_UP or "")


@pytest.fixture(scope="module")
def student_files(tmp_path_factory):
    from edgekd.export.onnx_export import export_onnx
    from edgekd.export.tflite_export import export_tflite_fp32

    folder = tmp_path_factory.mktemp("arm")
    torch.manual_seed(0)
    model = build_model("fmnist_student").eval()
    sample = np.random.default_rng(0).normal(size=(2, 1, 28, 28)).astype(np.float32)
    export_onnx(model, sample, folder / "student.onnx")
    export_tflite_fp32(model, sample, folder / "student.tflite")
    inputs = np.random.default_rng(1).normal(size=(4, 1, 28, 28)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(inputs)).numpy()
    return folder, inputs, expected


@needs_emulator
@pytest.mark.parametrize("name", ["student.onnx", "student.tflite"])
def test_counts_repeat_and_outputs_match_x86(student_files, name):
    folder, inputs, expected = student_files
    first = run_emulated(folder / name, inputs, "cortex-a53", runs=5, warmup=2)
    second = run_emulated(folder / name, inputs, "cortex-a53", runs=5, warmup=2)
    assert first.instructions_per_inference > 100_000  # a real CNN forward, not an empty window
    assert abs(first.instructions_per_inference - second.instructions_per_inference) \
        <= 0.001 * first.instructions_per_inference
    np.testing.assert_allclose(first.outputs, expected, atol=1e-4)
    assert first.guest["cpu_count"] == 1


@needs_emulator
def test_xnnpack_picks_core_specific_kernels(student_files):
    folder, inputs, _ = student_files
    a53 = run_emulated(folder / "student.tflite", inputs[:1], "cortex-a53", runs=3, warmup=1)
    a76 = run_emulated(folder / "student.tflite", inputs[:1], "cortex-a76", runs=3, warmup=1)
    assert a76.instructions_per_inference < a53.instructions_per_inference  # dot-product kernels on A76


def test_without_the_emulator_rows_are_skipped_with_the_way_to_set_it_up(tmp_path, monkeypatch, student_files):
    folder, inputs, _ = student_files
    monkeypatch.setenv("EDGEKD_ARM_ROOT", str(tmp_path / "nothing-here"))
    candidate = {"model": "student", "format": "onnx_fp32", "runtime": "onnxruntime", "status": "ok",
                 "path": str(folder / "student.onnx")}
    config = SimpleNamespace(emulated_cpus=["cortex-a53", "cortex-a76"], emulated_samples=4, emulated_runs=3)
    rows = emulated_rows(candidate, SimpleNamespace(inputs=inputs), config)
    assert [r["target"] for r in rows] == ["qemu-aarch64-cortex-a53", "qemu-aarch64-cortex-a76"]
    assert all(r["status"] == "skipped" and "make arm-setup" in r["reason"] for r in rows)
