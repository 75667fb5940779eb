"""Random YAML never makes the config loader raise anything but the project's own error."""

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgekd.config import load_config
from edgekd.errors import EdgeKDError

STAGE_TYPES = ["teacher", "cache", "distill", "ptq", "export_onnx", "export_tflite", "bench", "report", "nope"]
KEYS = ["name", "stages", "type", "train", "epochs", "alpha", "temperature", "data", "data_dir",
        "train_subset", "seed", "models", "formats", "dtype", "checkpoint", "typo", "baseline_seeds"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=8), st.sampled_from(STAGE_TYPES))
values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.sampled_from(KEYS), children, max_size=5)),
    max_leaves=20,
)
documents = st.dictionaries(st.sampled_from(KEYS), values, max_size=6)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=documents)
def test_structured_random_configs(tmp_path, document):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(document))
    try:
        load_config(path)
    except EdgeKDError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_arbitrary_text(tmp_path, text):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    try:
        load_config(path)
    except EdgeKDError as exc:
        assert "\n" not in str(exc)
