"""Self-distillation with auxiliary heads (Be Your Own Teacher): the loss on a hand-computed case, the
config errors, the cut networks on a real architecture, and a reduced real-data pipeline whose
shallow exit is exported as a model of its own."""

import math

import pytest
import torch

from edgekd.config import parse_config
from edgekd.data.input_spec import InputSpec
from edgekd.errors import ConfigError
from edgekd.kd.exits import ExitFamily, standalone
from edgekd.kd.losses import self_distillation_loss
from edgekd.model_artifacts import load_model
from edgekd.models.build import build_model, instantiate
from edgekd.pipeline import run
from edgekd.zoo import count_params

GREY_10 = InputSpec(shape=(1, 28, 28), class_names=tuple(str(i) for i in range(10)))


def _config(tmp_path, self_distill: dict, after: list | None = None):
    return parse_config({
        # one training thread: on a shared 2-core machine two threads ran the stage 5x slower
        "name": "self-distill", "threads": 1, "artifacts_dir": str(tmp_path / "artifacts"),
        "data": {"train_subset": 3000, "test_subset": 500},
        "stages": [{"type": "self_distill", "train": {"epochs": 2}, "min_seconds": 0.05, **self_distill},
                   *(after or [])],
    })


def test_loss_on_a_hand_computed_case():
    # One shallow exit and the deepest, one sample of class 0, T = 2, α = 0.5, λ = 0.1.
    deepest = torch.tensor([[2 * math.log(3), 0.0]], requires_grad=True)  # softmax: 9/10, 1/10
    shallow = torch.tensor([[0.0, 0.0]], requires_grad=True)  # softmax at any T: 1/2, 1/2
    hint, target = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]], requires_grad=True)
    loss = self_distillation_loss(torch.stack([shallow, deepest]), torch.tensor([0]), temperature=2.0,
                                  alpha=0.5, hints=[hint], deepest_features=target, hint_weight=0.1)
    # softmax(z_D / 2) = (3/4, 1/4); KL against (1/2, 1/2); the hint is mean(1², 2²) = 2.5
    kl = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    expected = math.log(10 / 9) + 0.5 * math.log(2) + 0.5 * 2.0**2 * kl + 0.1 * 2.5
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    loss.backward()
    # The deepest exit is the teacher of the others: its gradient is its own CE's, p − onehot(y).
    assert deepest.grad[0].tolist() == pytest.approx([-0.1, 0.1], abs=1e-6)
    assert target.grad is None or not target.grad.any()


def test_exits_repeated_or_an_unknown_export_exit_are_refused_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match="exits: features.3 listed more than once") as repeated:
        _config(tmp_path, {"exits": ["features.3", "features.3"]})
    with pytest.raises(ConfigError, match="export_exit: 'features.7' is not among the exits") as unknown:
        _config(tmp_path, {"exits": ["features.3"], "export_exit": "features.7"})
    assert "\n" not in str(repeated.value) + str(unknown.value)
    assert _config(tmp_path, {"export_exit": "deepest"}).stages[0].chosen_exit == "deepest"


def test_a_head_pool_that_does_not_divide_its_map_is_refused():
    from edgekd.zoo import FashionStudent

    with pytest.raises(ConfigError, match="head.pool: 4 does not divide the 7×7 map"):
        ExitFamily(FashionStudent(), ["features.3"], 10, torch.zeros(1, 1, 28, 28), {"stride": 2, "pool": 4})
    family = ExitFamily(FashionStudent(), ["features.3"], 10, torch.zeros(1, 1, 28, 28), {"stride": 2, "pool": 7})
    assert family.heads[0].embed_dim == 16 * 7 * 7


def test_an_exit_that_is_not_a_layer_names_the_close_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"exits: the student has no layer 'features\.30'; did you mean "
                                          r"features\.3") as error:
        run(_config(tmp_path, {"exits": ["features.30"]}))
    assert "\n" not in str(error.value)


def test_exits_out_of_forward_order_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="exits must be in forward order, shallowest first: the student runs "
                                          "them as features.3, features.7") as error:
        run(_config(tmp_path, {"exits": ["features.7", "features.3"]}))
    assert "\n" not in str(error.value)


def test_a_killed_family_resumes_to_the_same_weights(tmp_path, monkeypatch):
    from edgekd.zoo import FashionStudent
    from tests.kd.resume_check import assert_resumes_to_the_same_weights

    def family():
        torch.manual_seed(0)
        return ExitFamily(FashionStudent(), ["features.3"], 10, torch.zeros(1, 1, 28, 28), hint_weight=0.03)

    assert_resumes_to_the_same_weights(family, "self_distill", tmp_path, monkeypatch)


@pytest.mark.parametrize("name, exits", [("torchvision:resnet18", ["layer1", "layer2"]),
                                          ("timm:mobilenetv3_small_050", ["blocks.1", "blocks.3"])])
def test_a_library_network_cut_at_each_exit_is_smaller_and_rebuilds(name, exits):
    torch.manual_seed(0)
    backbone, kwargs = build_model(name, GREY_10)
    family = ExitFamily(backbone, exits, 10, torch.zeros(1, 1, 28, 28), hint_weight=0.1).eval()
    images = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        outputs = family(images)
    assert outputs.logits.shape == (3, 4, 10) and outputs.target.shape[0] == 4
    sizes = []
    for index in range(len(exits)):
        cut, cut_kwargs = standalone(family, index, {"name": name, "kwargs": kwargs}, 10)
        rebuilt = instantiate("builtin:early_exit", cut_kwargs).eval()
        rebuilt.load_state_dict(cut.state_dict(), strict=True)  # the saved kwargs rebuild the same network
        with torch.no_grad():
            assert torch.allclose(rebuilt(images), outputs.logits[index], atol=1e-5)
        sizes.append(count_params(cut))
    assert sizes[0] < sizes[1] < count_params(backbone)


def test_shallow_exit_is_the_model_later_stages_export(tmp_path):
    config = _config(tmp_path, {"exits": ["features.3"], "baseline_seeds": [0]},
                     [{"type": "export_onnx", "models": ["student"], "formats": ["fp32"]},
                      {"type": "export_tflite", "models": ["student"], "formats": ["fp32"]}])
    result = run(config)
    artifact = result.artifacts["self_distill"]
    metrics = artifact.metrics
    shallow, deepest = metrics["exits"]
    assert [shallow["name"], deepest["name"]] == ["features.3", "deepest"]
    assert shallow["accuracy"] > 0.6 and deepest["accuracy"] > 0.7
    assert shallow["params"] < deepest["params"] / 3 and all(e["ort_ms_p50"] > 0 for e in metrics["exits"])
    assert metrics["model"] == "early_exit" and metrics["params"] == shallow["params"]
    assert metrics["accuracy"] == shallow["accuracy"]
    comparison = metrics["self_distill_vs_ce"]
    assert set(comparison) == {"self_distill", "ce", "epochs"}
    assert comparison["self_distill"]["accuracies"] == [deepest["accuracy"]]
    exported = load_model(artifact)  # rebuilt from spec + kwargs + safetensors
    assert count_params(exported) == shallow["params"]
    assert not any(key.startswith("trunk.classifier") or key.startswith("trunk.features.4")
                   for key in exported.state_dict())
    for stage in ("export_onnx", "export_tflite"):
        export, = result.artifacts[stage].metrics["exports"]
        assert export["status"] == "ok" and export["parity_max_abs"] <= 1e-4, export
    assert run(config).all_reused
