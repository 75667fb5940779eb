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


@pytest.fixture(scope="module")
def student_checkpoint(tmp_path_factory):
    from edgekd.models.checkpoints import save_weights

    path = tmp_path_factory.mktemp("arm-torch") / "student.safetensors"
    torch.manual_seed(0)
    model = build_model("fmnist_student").eval()
    save_weights(model, path)
    inputs = np.random.default_rng(1).normal(size=(4, 1, 28, 28)).astype(np.float32)
    with torch.inference_mode():
        expected = model(torch.from_numpy(inputs)).numpy()
    return path, inputs, expected


def _checkpoint_candidate(path, architecture: str) -> dict:
    return {"model": "student", "format": "pytorch", "runtime": "pytorch", "status": "ok", "path": str(path),
            "architecture": architecture}


@needs_emulator
def test_pytorch_checkpoint_row_matches_x86_and_its_count_repeats(student_checkpoint):
    """The guest's own aarch64 torch (older than x86's) rebuilds the zoo model from the safetensors."""
    path, inputs, expected = student_checkpoint
    candidate = _checkpoint_candidate(path, "fmnist_student")
    config = SimpleNamespace(emulated_cpus=["cortex-a53"], emulated_samples=4, emulated_runs=3)
    [row] = emulated_rows(candidate, SimpleNamespace(inputs=inputs), config)
    assert row["status"] == "ok", row
    assert row["reference"].startswith("x86 PyTorch ") and row["runtime_info"]["engine"] == "pytorch"
    assert row["parity_max_abs"] <= 1e-4 and row["top1_agreement"] == 1.0
    assert row["instructions_per_inference"] > 100_000
    again = run_emulated(path, inputs, "cortex-a53", runs=3, arch="fmnist_student")  # the row's runs and warm-up
    assert abs(again.instructions_per_inference - row["instructions_per_inference"]) \
        <= 0.001 * row["instructions_per_inference"]
    np.testing.assert_allclose(again.outputs, expected, atol=1e-4)
    assert (again.outputs.argmax(axis=1) == expected.argmax(axis=1)).all()


@needs_emulator
def test_a_checkpoint_that_does_not_fit_fails_in_the_guest_with_the_reason(student_checkpoint):
    path, inputs, _ = student_checkpoint
    with pytest.raises(RuntimeError, match="does not fit fmnist_teacher .* tensors differ"):
        run_emulated(path, inputs[:1], "cortex-a53", runs=1, warmup=0, arch="fmnist_teacher")


def test_pytorch_rows_fail_with_the_reason_when_x86_cannot_load_the_checkpoint(student_checkpoint):
    path, inputs, _ = student_checkpoint
    candidate = _checkpoint_candidate(path, "fmnist_teacher")
    config = SimpleNamespace(emulated_cpus=["cortex-a53"], emulated_samples=1, emulated_runs=1)
    [row] = emulated_rows(candidate, SimpleNamespace(inputs=inputs), config)
    if NOT_SET_UP:
        assert row["status"] == "skipped"
    else:
        assert row["status"] == "failed" and row["reason"].startswith("x86 reference: CheckpointError")


@needs_emulator
def test_a_set_up_without_pytorch_skips_pytorch_rows_with_the_way_to_add_it(tmp_path, monkeypatch,
                                                                              student_checkpoint):
    path, inputs, _ = student_checkpoint
    for part in ("rootfs/usr/bin/python3.11", "plugin/libinsncount.so", "cpuinfo/cortex-a53"):
        (tmp_path / part).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / part).touch()  # an older set-up: everything but rootfs/opt/site-torch
    monkeypatch.setenv("EDGEKD_ARM_ROOT", str(tmp_path))
    candidate = _checkpoint_candidate(path, "fmnist_student")
    config = SimpleNamespace(emulated_cpus=["cortex-a53"], emulated_samples=1, emulated_runs=1)
    [row] = emulated_rows(candidate, SimpleNamespace(inputs=inputs), config)
    assert row["status"] == "skipped" and "make arm-setup" in row["reason"]


def test_without_the_emulator_rows_are_skipped_with_the_way_to_set_it_up(tmp_path, monkeypatch, student_files):
    folder, inputs, _ = student_files
    monkeypatch.setenv("EDGEKD_ARM_ROOT", str(tmp_path / "nothing-here"))
    candidate = {"model": "student", "format": "onnx_fp32", "runtime": "onnxruntime", "status": "ok",
                 "path": str(folder / "student.onnx")}
    config = SimpleNamespace(emulated_cpus=["cortex-a53", "cortex-a76"], emulated_samples=4, emulated_runs=3)
    rows = emulated_rows(candidate, SimpleNamespace(inputs=inputs), config)
    assert [r["target"] for r in rows] == ["qemu-aarch64-cortex-a53", "qemu-aarch64-cortex-a76"]
    assert all(r["status"] == "skipped" and "make arm-setup" in r["reason"] for r in rows)
