"""Model specs and sources: every way a user names a model, and every way it can be wrong."""

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from edgekd.cli import main
from edgekd.data.input_spec import InputSpec
from edgekd.errors import CheckpointError, ConfigError
from edgekd.models.build import build_model, spec_fingerprint
from edgekd.models.spec import parse_spec

GREY_10 = InputSpec(shape=(1, 28, 28), class_names=tuple(str(i) for i in range(10)))


def test_short_strings_and_mappings_parse_to_the_same_spec():
    assert parse_spec("fmnist_student").source == "builtin"
    assert parse_spec("builtin:fmnist_student").target == "fmnist_student"
    spec = parse_spec({"name": "timm:resnet18", "kwargs": {"drop_rate": 0.1}})
    assert (spec.source, spec.target, spec.kwargs) == ("timm", "resnet18", {"drop_rate": 0.1})
    with pytest.raises(ConfigError, match="unknown model source 'tim'"):
        parse_spec("tim:resnet18", "teacher.model")
    with pytest.raises(ConfigError, match="expected file:<path.py>:<callable>"):
        parse_spec("file:model.py")


def test_library_models_take_classes_and_channels_from_the_data():
    timm_model, kwargs = build_model("timm:mobilenetv3_small_050", GREY_10)
    assert kwargs == {"num_classes": 10, "in_chans": 1}
    assert timm_model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    vision, kwargs = build_model("torchvision:resnet18", GREY_10)
    assert kwargs["in_channels"] == 1 and vision.eval()(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


def test_unknown_timm_name_suggests_close_ones():
    with pytest.raises(CheckpointError, match="timm has no model 'resnet181'; did you mean resnet18"):
        build_model("timm:resnet181", GREY_10)


def test_asking_for_hub_weights_says_so_in_one_line():
    with pytest.raises(CheckpointError, match="would download weights from a hub"):
        build_model({"name": "timm:resnet18", "kwargs": {"pretrained": True}}, GREY_10)
    with pytest.raises(CheckpointError, match="`weights` would download"):
        build_model({"name": "torchvision:resnet18", "kwargs": {"weights": "DEFAULT"}}, GREY_10)


def _factory_file(tmp_path, body: str):
    path = tmp_path / "mine.py"
    path.write_text("from torch import nn\n" + body)
    return f"file:{path}:build"


def test_user_factory_file_gets_data_kwargs_and_its_digest_is_recorded(tmp_path):
    spec = _factory_file(tmp_path, "def build(num_classes, in_channels=1):\n"
                                   "    return nn.Sequential(nn.Flatten(), nn.Linear(in_channels * 784, num_classes))\n")
    model, kwargs = build_model(spec, GREY_10)
    assert kwargs == {"num_classes": 10, "in_channels": 1} and model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
    before = spec_fingerprint(spec)["code_sha256"]
    (tmp_path / "mine.py").write_text((tmp_path / "mine.py").read_text() + "# edited\n")
    assert spec_fingerprint(spec)["code_sha256"] != before  # editing the file retrains


@pytest.mark.parametrize("body, message", [
    (None, "model file .* not found"),
    ("raise RuntimeError('boom at import')\n", "failed to run: RuntimeError: boom at import"),
    ("def build():\n    raise ValueError('bad width')\n", "building the model raised ValueError: bad width"),
    ("def build():\n    return 42\n", "returned int, not a torch.nn.Module"),
    ("def other():\n    pass\n", "has no callable 'build'; it defines: other"),
])
def test_broken_factory_files_are_one_line(tmp_path, body, message):
    spec = f"file:{tmp_path / 'absent.py'}:build" if body is None else _factory_file(tmp_path, body)
    with pytest.raises(CheckpointError, match=message):
        build_model(spec, GREY_10)


def test_checkpoint_mismatch_names_missing_unexpected_and_misshaped_keys(tmp_path):
    from safetensors.torch import save_file

    from edgekd.zoo import FashionStudent

    state = {f"module.{k}": v for k, v in FashionStudent().state_dict().items()}
    save_file(state, str(tmp_path / "ddp.safetensors"))
    spec = {"name": "fmnist_student", "checkpoint": str(tmp_path / "ddp.safetensors")}
    with pytest.raises(CheckpointError, match=r"missing 16 \(classifier.1.bias.*unexpected 16 \(module.classifier.*try strip_prefix: 'module.'"):
        build_model(spec, GREY_10)
    model, _ = build_model({**spec, "strip_prefix": "module."}, GREY_10)  # the DDP prefix dropped: loads
    state = FashionStudent(width=8).state_dict()
    save_file(state, str(tmp_path / "narrow.safetensors"))
    with pytest.raises(CheckpointError, match=r"mis-shaped 11 \(classifier.1.weight \(32, 784\) vs \(32, 1568\), features.0.weight"):
        build_model({"name": "fmnist_student", "checkpoint": str(tmp_path / "narrow.safetensors")}, GREY_10)


def test_onnx_teacher_runs_in_onnx_runtime(tmp_path):
    from edgekd.export.onnx_export import export_onnx
    from edgekd.models.checkpoints import load_model

    teacher = load_model("fmnist_teacher", "models/fmnist_teacher.safetensors")
    export_onnx(teacher, np.zeros((2, 1, 28, 28), np.float32), tmp_path / "t.onnx")
    wrapped, _ = build_model(f"onnx:{tmp_path / 't.onnx'}", GREY_10)
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(wrapped(x), teacher(x), atol=1e-4)


def _run_pipeline(tmp_path, data: str, teacher: str) -> tuple[int, str]:
    path = tmp_path / "p.yaml"
    path.write_text(f"name: x\nartifacts_dir: {tmp_path / 'a'}\ndata: {data}\n"
                    f"stages:\n  - {{type: teacher, model: {teacher}, train: {{epochs: 1}}}}\n")
    result = CliRunner().invoke(main, ["run", str(path)])
    return result.exit_code, result.stderr.strip()


def test_teacher_whose_width_is_not_the_class_count_is_refused_before_training(tmp_path):
    code, output = _run_pipeline(tmp_path, "{type: idx, train_subset: 64, test_subset: 32}",
                                 "{name: fmnist_teacher, kwargs: {num_classes: 7}}")
    assert code == 2 and len(output.splitlines()) == 1
    assert "outputs 7 values per sample but the data has 10 classes" in output
