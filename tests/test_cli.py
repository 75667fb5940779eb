from click.testing import CliRunner

from edgekd.cli import main


def test_validate_ok():
    result = CliRunner().invoke(main, ["validate", "pipelines/quickstart.yaml"])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output


def test_bad_key_is_one_line_exit_2(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nstages:\n  - type: distill\n    epocs: 3\n")
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {path}: stages[0](distill).epocs: unknown field"


def test_missing_data_is_one_line_exit_2(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(f"name: x\nartifacts_dir: {tmp_path / 'a'}\ndata: {{data_dir: {tmp_path / 'nodata'}}}\n"
                    "stages: [{type: teacher, train: {epochs: 1}}]\n")
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Fashion-MNIST not found" in lines[0] and "train-images-idx3-ubyte" in lines[0]


def test_bad_override_syntax():
    result = CliRunner().invoke(main, ["run", "pipelines/quickstart.yaml", "--set", "novalue"])
    assert result.exit_code == 2 and "KEY=VALUE" in result.output


def test_bench_command_on_model_files(tmp_path):
    """`edgekd bench` on an exported ONNX file and a checkpoint: rows, report files, exit 0."""
    import json

    import numpy as np
    import torch

    from edgekd.export.onnx_export import export_onnx
    from edgekd.zoo import build_model

    torch.manual_seed(0)
    model = build_model("fmnist_student").eval()
    export_onnx(model, np.zeros((2, 1, 28, 28), np.float32), tmp_path / "student.onnx")
    result = CliRunner().invoke(main, ["bench", str(tmp_path / "student.onnx"), "models/fmnist_teacher.safetensors",
                                       "--arch", "fmnist_teacher", "--min-seconds", "0.05",
                                       "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [(r["model"], r["format"], r["status"]) for r in report["rows"]] == [
        ("student", "onnx", "ok"), ("fmnist_teacher", "pytorch", "ok")]
    assert report["rows"][1]["accuracy"] > 0.9 and report["rows"][0]["latency_ms_p99"] > 0
    assert (tmp_path / "out" / "report.html").read_text().count("<svg") >= 3


def test_bench_command_names_a_checkpoint_without_architecture(tmp_path):
    result = CliRunner().invoke(main, ["bench", "models/fmnist_teacher.safetensors"])
    assert result.exit_code == 2 and "--arch" in result.output


def test_report_command_rerenders(tmp_path):
    import json

    (tmp_path / "report.json").write_text(json.dumps({"pipeline": "p", "rows": [], "summary": {}}))
    result = CliRunner().invoke(main, ["report", str(tmp_path / "report.json")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.html").is_file() and (tmp_path / "report.md").read_text().startswith("# edgekd report")


def test_bench_takes_a_model_spec_mapping_for_a_library_checkpoint(tmp_path):
    """`--arch` is a model spec: a timm checkpoint is rebuilt with the kwargs the mapping gives."""
    import json

    import timm
    from safetensors.torch import save_file

    model = timm.create_model("mobilenetv3_small_050", num_classes=10, in_chans=1)
    save_file(model.state_dict(), str(tmp_path / "mnv3.safetensors"))
    arch = "{name: timm:mobilenetv3_small_050, kwargs: {num_classes: 10, in_chans: 1}}"
    result = CliRunner().invoke(main, ["bench", str(tmp_path / "mnv3.safetensors"), "--arch", arch,
                                       "--min-seconds", "0", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "out" / "report.json").read_text())["rows"]
    assert rows[0]["status"] == "ok" and rows[0]["accuracy"] is not None
