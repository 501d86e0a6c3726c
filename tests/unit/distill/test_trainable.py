"""apply_trainable: each `what` trains exactly its parameters; bad specs fail before any change."""

import pytest
import torch

from neuroflow.distill.trainable import TrainableSpec, apply_trainable
from neuroflow.models import load_vision_model

pytestmark = pytest.mark.usefixtures("one_thread")


def names(tower, trainable=True):
    return {n for n, p in tower.hf.named_parameters() if p.requires_grad is trainable}


def all_names(tower):
    return [n for n, _ in tower.hf.named_parameters()]


def test_head_trains_post_norm_and_map_head_only(tower):
    got = apply_trainable(tower, TrainableSpec(what="head"))
    expected = {n for n in all_names(tower) if n.startswith(("post_layernorm.", "head."))}
    assert set(got) == names(tower) == expected
    assert "head.attention.in_proj_weight" in expected and "head.probe" in expected
    assert not any(p.requires_grad for p in tower.hf.encoder.parameters())
    assert not any(p.requires_grad for p in tower.hf.embeddings.parameters())


def test_head_blocks_adds_exactly_the_last_blocks():
    tower = load_vision_model("mini_siglip")  # 4 blocks
    got = set(apply_trainable(tower, TrainableSpec(what="head_blocks", last_blocks=2)))
    layers = {n.split(".")[2] for n in got if n.startswith("encoder.layers.")}
    assert layers == {"2", "3"}
    layer3 = {n for n in all_names(tower) if n.startswith("encoder.layers.3.")}
    assert layer3 <= got and len(layer3) == 16  # both norms, q k v out, fc1 fc2
    assert {n for n in got if not n.startswith("encoder.")} == {
        n for n in all_names(tower) if n.startswith(("post_layernorm.", "head."))
    }
    assert got == names(tower)


def test_all_trains_everything(tower):
    got = apply_trainable(tower, TrainableSpec(what="all"))
    assert set(got) == set(all_names(tower)) and not names(tower, trainable=False)


def test_lora_trains_only_factors_and_extras(tower):
    spec = TrainableSpec(extra=["head.probe", "head.layernorm.*"], lora_rank=2)
    got = set(apply_trainable(tower, spec))
    assert got == names(tower)
    extras = {"head.probe", "head.layernorm.weight", "head.layernorm.bias"}
    assert extras <= got
    factors = got - extras
    assert factors and all(".lora_A." in n or ".lora_B." in n for n in factors)
    adapted = {n.split(".lora_")[0] for n in factors}
    # 2 blocks x (q, k, v, out, fc1, fc2) + the head's MLP; never the MAP attention
    assert len(adapted) == 14 and {"head.mlp.fc1", "head.mlp.fc2"} <= adapted
    assert not any(n.startswith("head.attention") for n in adapted)
    assert all(not p.requires_grad for n, p in tower.hf.named_parameters() if "base_layer" in n)


def test_spec_accepts_lists_and_stays_hashable():
    spec = TrainableSpec(lora_targets=["q_proj", "v_proj"], extra=["head.probe"])
    assert spec.lora_targets == ("q_proj", "v_proj") and spec.extra == ("head.probe",)
    assert TrainableSpec(extra="head.probe").extra == ("head.probe",)  # one name, not letters
    hash(spec)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"what": "blocks"}, "unknown trainable what"),
        ({"lora_rank": 0}, "lora_rank must be >= 1"),
        ({"last_blocks": 0}, "last_blocks must be >= 1"),
        ({"lora_dropout": 1.0}, "lora_dropout"),
        ({"lora_targets": []}, "needs at least one"),
    ],
)
def test_spec_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainableSpec(**kwargs)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (TrainableSpec(extra=("head.prob",)), r"extra pattern 'head.prob' matches no parameter"),
        (TrainableSpec(what="head_blocks", last_blocks=3), "last_blocks=3 but this siglip tower"),
        (TrainableSpec(lora_targets=("qkv",)), r"'qkv' matches no linear layer.*q_proj"),
        (TrainableSpec(lora_targets=("head.attention.out_proj",)), "reaches into head.attention"),
        (TrainableSpec(lora_targets=(r"head\.attention\..*",)), "reaches into head.attention"),
        (TrainableSpec(lora_targets=("fc1",), extra=("*.fc1.weight",)), "either"),
        (TrainableSpec(lora_targets=("q_proj[",)), "not a valid regex"),
    ],
)
def test_errors_name_the_problem_and_leave_the_tower_alone(tower, spec, match):
    with pytest.raises(ValueError, match=match):
        apply_trainable(tower, spec)
    assert not names(tower, trainable=False)  # nothing frozen
    assert not any("lora_" in n for n in all_names(tower))  # nothing injected


def test_lora_twice_is_refused(tower):
    apply_trainable(tower, TrainableSpec(lora_targets=("q_proj",)))
    with pytest.raises(ValueError, match="already has LoRA"):
        apply_trainable(tower, TrainableSpec(lora_targets=("q_proj",)))


def test_clip_head_is_its_post_norm():
    tower = load_vision_model("tiny-clip")
    got = apply_trainable(tower, TrainableSpec(what="head"))
    assert set(got) == {"post_layernorm.weight", "post_layernorm.bias"}
    # pre_layrnorm sits before the encoder: never part of the head
    assert not tower.hf.pre_layrnorm.weight.requires_grad


def test_vit_head_is_final_norm_and_pooler_and_lora_names_o_proj():
    tower = load_vision_model("tiny-vit")
    got = set(apply_trainable(tower, TrainableSpec(what="head_blocks", last_blocks=1)))
    assert {"layernorm.weight", "layernorm.bias", "pooler.dense.weight"} <= got
    assert {n.split(".")[1] for n in got if n.startswith("layers.")} == {"1"}
    with pytest.raises(ValueError, match=r"'out_proj' matches no linear layer.*o_proj"):
        apply_trainable(load_vision_model("tiny-vit"), TrainableSpec())
    vit = load_vision_model("tiny-vit")
    spec = TrainableSpec(lora_targets=("q_proj", "v_proj", "o_proj", "fc1", "fc2"))
    lora = apply_trainable(vit, spec)
    assert len(lora) == 2 * 2 * 5  # A and B of 5 layers in 2 blocks
    x = torch.randn(1, 3, 32, 32)
    vit(x).sum().backward()
    assert all(p.grad is None for n, p in vit.hf.named_parameters() if n not in lora)
