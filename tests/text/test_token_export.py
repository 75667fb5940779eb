"""Text models export with `input_ids` + `attention_mask` (int64, dynamic batch and length), match
PyTorch in ONNX Runtime, and quantise dynamically to int8 integer kernels."""

import numpy as np
import pytest
import torch

from edgekd.data.input_spec import InputSpec
from edgekd.models.build import build_model
from tests.int8_cpu import xfail_without_vnni

SPEC = InputSpec(shape=(32,), layout="NL", dtype="int64", class_names=("a", "b", "c"),
                 extra={"pad_id": 0, "vocab_size": 30522, "max_length": 32, "tokenizer": "minilm"})


def token_rows(count=24, length=32, seed=0):
    rng = np.random.default_rng(seed)
    rows = np.zeros((count, length), dtype=np.int64)
    for row, used in zip(rows, rng.integers(4, length, size=count)):
        row[:used] = rng.integers(1000, 30000, size=used)
        row[0], row[used - 1] = 101, 102
    return rows


@pytest.mark.parametrize("name", ["tiny_bert", "token_cnn"])
def test_token_model_onnx_parity_at_every_length(tmp_path, name):
    from edgekd.export.checked import export_and_check
    from edgekd.export.input_spec_files import read_input_spec
    from edgekd.runtimes.onnxruntime_rt import OrtRuntime
    from edgekd.stages.export_onnx import convert

    torch.manual_seed(0)
    model, _ = build_model(name, SPEC)
    rows = token_rows()
    record, _ = export_and_check(model.eval(), "onnx", "fp32", convert, tmp_path, "m", rows, SPEC, "pytorch fp32")
    assert record["parity_rel"] <= 1e-4 and record["top1_agreement"] == 1.0
    path = tmp_path / "m.onnx"
    runtime = OrtRuntime(path)
    assert [(i.name, i.type, i.shape) for i in runtime.session.get_inputs()] == [
        ("input_ids", "tensor(int64)", ["batch", "length"]), ("attention_mask", "tensor(int64)", ["batch", "length"])]
    assert read_input_spec(path).extra["pad_id"] == 0 and runtime.pad_id == 0
    short = rows[:3, :8]  # another batch and length than the export's
    with torch.no_grad():
        expected = model(torch.from_numpy(short)).numpy()
    np.testing.assert_allclose(runtime.run(short), expected, atol=1e-4)


@xfail_without_vnni
def test_dynamic_int8_uses_integer_kernels(tmp_path):
    from edgekd.export.checked import export_and_check
    from edgekd.stages.export_onnx import convert

    torch.manual_seed(0)
    model, _ = build_model({"name": "tiny_bert", "kwargs": {"hidden": 64, "layers": 2}}, SPEC)
    rows = token_rows(64)

    def dynamic(module, precision, sample, out, stem):
        return convert(module, precision, sample, out, stem, dynamic_int8=True)

    record, _ = export_and_check(model.eval(), "onnx", "int8", dynamic, tmp_path, "q", rows, SPEC, "pytorch fp32")
    assert record["int8_method"] == "ort dynamic"
    assert "MatMulIntegerToFloat" in record["integer_ops"]  # what ORT fuses MatMulInteger into
    fp32_bytes = 4 * sum(p.numel() for p in model.parameters())
    assert (tmp_path / "q.onnx").stat().st_size < 0.4 * fp32_bytes  # the embedding is int8 too
    assert record["parity_rel"] < 0.1


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_token_model_tflite_at_the_fixed_length(tmp_path, precision):
    from edgekd.export.checked import export_and_check
    from edgekd.export.input_spec_files import read_input_spec
    from edgekd.stages.export_tflite import convert

    torch.manual_seed(0)
    model, _ = build_model("token_cnn", SPEC)
    rows = token_rows(16)

    def dynamic(module, precision, sample, out, stem):
        return convert(module, precision, sample, out, stem, threads=1, dynamic_int8=True)

    record, _ = export_and_check(model.eval(), "tflite", precision, dynamic, tmp_path, "m", rows, SPEC, "pytorch fp32")
    assert record["input_dtype"] == "int32"
    if precision == "fp32":
        assert record["parity_rel"] <= 1e-4
    else:
        assert record["int8_method"].startswith("dynamic") and record["parity_rel"] < 0.1
        fp32_bytes = 4 * sum(p.numel() for p in model.parameters())
        assert (tmp_path / "m.tflite").stat().st_size < 0.4 * fp32_bytes
    assert read_input_spec(tmp_path / "m.tflite").extra["pad_id"] == 0
