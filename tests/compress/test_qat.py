"""Quantisation-aware training through the real pipeline: the int8 files are the QAT model."""

import json

import pytest

from edgekd.errors import ConfigError
from edgekd.pipeline import run
from edgekd.stages.export_common import QAT_REFERENCE
from tests.compress.distilled import distilled_then
from tests.int8_cpu import xfail_without_vnni


def _pipeline(tmp_path, stages):
    return distilled_then(tmp_path, "qat", stages, train_subset=10000, test_subset=1000, distill_epochs=3)


def _small_pipeline(tmp_path, stages):
    """For the refusals: they come at export, whatever the student learned."""
    return distilled_then(tmp_path, "qat", stages, train_subset=512, test_subset=128, distill_epochs=1)


@pytest.fixture(scope="module")
def qat_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("qat")
    return run(_pipeline(tmp_path, [
        {"type": "qat", "train": {"epochs": 1, "lr": 0.005}, "calibration_samples": 256},
        {"type": "export_onnx", "models": ["student"], "formats": ["int8"]},
        {"type": "export_tflite", "models": ["student"], "formats": ["int8"]},
        {"type": "bench", "models": ["student"], "min_seconds": 0.05},
        {"type": "report"},
    ]))


def test_qat_scores_itself_against_fp32_and_ptq(qat_run):
    metrics = qat_run.artifacts["qat"].metrics
    assert metrics["models"]["student"]["source_artifact"] == qat_run.artifacts["distill"].id
    assert metrics["fp32_accuracy"] > 0.6 and metrics["ptq_accuracy"] > 0.6
    assert metrics["accuracy"] > metrics["fp32_accuracy"] - 0.03  # 10k images, 1 epoch: a loose bound
    summary = json.loads((qat_run.artifacts["report"].path / "report.json").read_text())["summary"]
    assert summary["student_int8"]["method"] == "qat"
    assert "quantisation-aware KD fine-tuning" in (qat_run.artifacts["report"].path / "report.md").read_text()


@xfail_without_vnni
def test_int8_files_are_the_qat_model_with_integer_kernels(qat_run):
    onnx, = qat_run.artifacts["export_onnx"].metrics["exports"]
    tflite, = qat_run.artifacts["export_tflite"].metrics["exports"]
    # A 10k-image student has thin logit margins: TFLite's int32 bias and fixed-point requantisation
    # flip a few more ties than ONNX Runtime. The full-data figures (>= 99.5 %) are in benchmarks/.
    for record, floor in ((onnx, 0.99), (tflite, 0.98)):
        assert record["status"] == "ok" and record["reference"] == QAT_REFERENCE
        assert record["top1_agreement"] >= floor, record
    assert "QLinearConv" in onnx["integer_ops"] and onnx["float_compute_ops"] == []


def test_tflite_ranges_come_from_qat_not_a_fresh_calibration(qat_run):
    """The TFLite input tensor's scale is the one the first activation fake-quantiser learned."""
    from safetensors.torch import load_file

    from edgekd.runtimes.litert_rt import LiteRTRuntime
    from edgekd.stages.qat import QAT_FILE

    state = load_file(str(qat_run.artifacts["qat"].file(QAT_FILE)))
    scales = {key: float(value) for key, value in state.items() if key.endswith(".scale") and value.numel() == 1}
    export = qat_run.artifacts["export_tflite"]
    runtime = LiteRTRuntime(export.path / export.metrics["exports"][0]["file"])
    scale, zero_point = runtime.interpreter.get_input_details()[0]["quantization"]
    learned = scales["activation_post_process_0.scale"]
    assert scale == pytest.approx(learned, rel=1e-6), (scale, sorted(scales.items())[:3])


def test_int8_export_without_a_quantizer_names_the_missing_stage(tmp_path):
    config = _small_pipeline(tmp_path, [{"type": "export_onnx", "models": ["student"], "formats": ["int8"]}])
    with pytest.raises(ConfigError, match="needs an earlier ptq stage .* or a qat stage"):
        run(config)


def test_qat_before_prune_is_refused_at_export(tmp_path):
    config = _small_pipeline(tmp_path, [
        {"type": "qat", "train": {"epochs": 1}, "calibration_samples": 64},
        {"type": "prune", "stages": 1, "final_epochs": 0, "finetune": {"epochs": 1}},
        {"type": "export_onnx", "models": ["student"], "formats": ["int8"]},
    ])
    with pytest.raises(ConfigError, match="the qat stage quantised another student"):
        run(config)


def test_folding_batch_norm_keeps_the_function_and_removes_the_bn():
    import torch
    from torch import nn

    from edgekd.compress.qat import fold_batch_norm
    from edgekd.zoo import build_model

    torch.manual_seed(0)
    model = build_model("fmnist_student").train()
    with torch.no_grad():  # non-trivial running statistics
        for _ in range(3):
            model(torch.randn(64, 1, 28, 28) * 2 + 0.5)
    model.eval()
    folded = fold_batch_norm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original is untouched
    x = torch.randn(8, 1, 28, 28)
    torch.testing.assert_close(folded(x), model(x), atol=1e-5, rtol=1e-4)


def test_scoring_the_qat_model_never_moves_its_int8_ranges():
    """eval() freezes the fake-quantisers (train() releases them): test images must not calibrate."""
    import numpy as np
    import torch

    from edgekd.compress import qat
    from edgekd.zoo import build_model

    torch.manual_seed(0)
    prepared = qat.prepare(build_model("fmnist_student"), np.zeros((2, 1, 28, 28), np.float32))
    fake_quantizers = [m for m in prepared.modules() if hasattr(m, "observer_enabled")]
    prepared.train()
    prepared(torch.randn(16, 1, 28, 28))
    prepared.eval()
    assert not prepared.training
    scales = [m.scale.clone() for m in fake_quantizers]
    with torch.no_grad():
        prepared(5 * torch.randn(16, 1, 28, 28))  # far wider than what the ranges were learned on
    assert all(torch.equal(before, m.scale) for before, m in zip(scales, fake_quantizers))
    prepared.train()
    prepared(5 * torch.randn(16, 1, 28, 28))
    assert not all(torch.equal(before, m.scale) for before, m in zip(scales, fake_quantizers))
