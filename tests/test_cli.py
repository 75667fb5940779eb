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
