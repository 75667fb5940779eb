import pytest

from edgekd.config import load_config, parse_config
from edgekd.errors import ConfigError

MINIMAL = {"name": "t", "stages": [{"type": "teacher", "checkpoint": "x.safetensors"}, {"type": "cache"}]}


def test_minimal_config_parses_into_typed_stages():
    config = parse_config(MINIMAL)
    assert [s.type for s in config.stages] == ["teacher", "cache"]
    assert config.stages[1].dtype == "float16"


def test_quickstart_pipeline_is_valid():
    config = load_config("pipelines/quickstart.yaml")
    assert config.stages[0].type == "teacher"


@pytest.mark.parametrize("stages, message", [
    ([{"type": "cache", "dtpye": "float16"}], r"stages\[0\]\(cache\)\.dtpye: unknown field"),
    ([{"type": "distill", "train": {"temperature": 0}}], r"stages\[0\]\(distill\)\.train\.temperature: Input should be greater than 0"),
    ([{"type": "distill", "train": {"alpha": 1.5}}], r"train\.alpha: Input should be less than or equal to 1"),
    ([{"type": "nope"}], r"stages\[0\]\(nope\): unknown stage type 'nope'"),
    ([{"dtype": "float16"}], r"stages\[0\]: each stage needs a `type`"),
    ([], r"stages: List should have at least 1 item"),
    ([{"type": "cache"}, {"type": "cache"}], r"repeated: cache"),
    ([{"type": "distill", "train": {"epochs": "many"}}], r"train\.epochs: Input should be a valid integer"),
    ([{"type": "distill", "train": {"temperature": -1}}], r"train\.temperature: Input should be greater than 0"),
    ([{"type": "distill", "train": {"alpha": -0.1}}], r"train\.alpha: Input should be greater than or equal to 0"),
    ([{"type": "export_tflite", "formats": ["int4"]}], r"formats\[0\]: Input should be 'fp32', 'fp16' or 'int8'"),
    (["cache"], r"stages\[0\]: expected a mapping of fields|stages\[0\]: "),
])
def test_errors_name_the_field(stages, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({"name": "t", "stages": stages}, source="p.yaml")


def test_unknown_top_level_key(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: t\nstagse: []\nstages: [{type: cache}]\n")
    with pytest.raises(ConfigError, match=r"p.yaml: stagse: unknown field"):
        load_config(path)


def test_yaml_is_never_executed(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: !!python/object/apply:os.system ['echo pwned']\nstages: [{type: cache}]\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read pipeline file"):
        load_config(tmp_path / "absent.yaml")


def test_overrides_apply_to_nested_and_list_fields(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: t\nstages: [{type: distill}]\n")
    config = load_config(path, {"data.train_subset": 100, "stages.0.train.epochs": 2})
    assert config.data.train_subset == 100 and config.stages[0].train.epochs == 2


def test_missing_required_field():
    with pytest.raises(ConfigError, match=r"p.yaml: name: Field required"):
        parse_config({"stages": [{"type": "cache"}]}, source="p.yaml")


def test_wrong_top_level_type():
    with pytest.raises(ConfigError, match=r"p.yaml: seed: Input should be a valid integer"):
        parse_config({"name": "x", "seed": "zero", "stages": [{"type": "cache"}]}, source="p.yaml")
