"""`qat`: quantisation-aware KD fine-tuning of the student, exported as the student's int8 model.

Starts from the latest student (distilled or pruned), folds BN, fake-quantises weights (per-channel,
symmetric int8) and activations (per-tensor, affine int8) and fine-tunes with the KD loss from the
teacher cache. The export stages then build their int8 files from these learned ranges instead of a
PTQ calibration. A PTQ int8 of the same student, calibrated the way the `ptq` stage does it, is
scored beside it as the baseline QAT has to beat.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import PositiveInt

from edgekd.config import StageConfig
from edgekd.stages.base import Stage
from edgekd.stages.training_config import TrainingConfig

QAT_FILE = "student_int8_qat.safetensors"


class QatConfig(StageConfig):
    type: Literal["qat"] = "qat"
    # A short, gentle fine-tune: the student has converged, only the rounding has to be learned.
    train: TrainingConfig = TrainingConfig(epochs=2, lr=0.005)
    calibration_samples: PositiveInt = 512  # for the PTQ baseline scored beside QAT


class QatStage(Stage):
    type = "qat"
    Config = QatConfig
    distributed = True  # under torchrun the fine-tune is DistributedDataParallel; rank 0 writes

    def run(self, config: QatConfig, ctx, out: Path) -> dict[str, Any]:
        from edgekd.compress import qat
        from edgekd.model_artifacts import accuracy, load_model, torch_logits
        from edgekd.compress.quantization import calibrate, calibration_sample, convert
        from edgekd.stages.cache import open_latest_cache
        from edgekd.stages.model_refs import model_artifact, role_split
        from edgekd.stages.student_finetune import finetune_with_kd

        source = model_artifact(ctx, "student")
        model = load_model(source)
        train, test = role_split(ctx, "student", "train"), role_split(ctx, "student", "test")
        fp32_accuracy = source.metrics["accuracy"]  # every student stage scores its model on the test set
        calibration = calibration_sample(train.inputs, config.calibration_samples, ctx.seed)
        ptq_accuracy = accuracy(torch_logits(convert(calibrate(model, calibration)), test.inputs), test.labels)
        ctx.console.print(f"student fp32 {fp32_accuracy:.4f}, PTQ int8 {ptq_accuracy:.4f}: QAT fine-tune starts")
        prepared = qat.prepare(model, train.inputs)
        finetune_with_kd(prepared, ctx, open_latest_cache(ctx), config.train.recipe(), ctx.seed,
                         "QAT: KD fine-tune with fake-quant", checkpoint=ctx.resume_path("qat.ckpt"))
        qat.freeze(prepared)
        qat.save(prepared, out / QAT_FILE)
        qat_accuracy = accuracy(torch_logits(qat.convert(prepared), test.inputs), test.labels)
        ctx.console.print(f"QAT int8 (PyTorch fake-quant) test accuracy {qat_accuracy:.4f} "
                          f"(fp32 {fp32_accuracy:.4f}, PTQ int8 {ptq_accuracy:.4f})")
        return {"scheme": "int8 symmetric per-channel weights, per-tensor activations; BN folded; QAT",
                "models": {"student": {"file": QAT_FILE, "accuracy": qat_accuracy, "source_artifact": source.id}},
                "accuracy": qat_accuracy, "fp32_accuracy": fp32_accuracy, "ptq_accuracy": ptq_accuracy,
                "drop_vs_fp32": fp32_accuracy - qat_accuracy, "epochs": config.train.epochs}
