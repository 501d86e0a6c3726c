"""The benchmark's method specs: inline settings, keep settings, unreachable methods left out."""

from __future__ import annotations

import pytest

from neuroflow.bench.registry import build_method, build_methods, parse_spec
from neuroflow.core.gate import GateConfig
from neuroflow.models import load_vision_model

GATE = GateConfig(threshold=0.1, ema_decay=0.2)


def test_a_spec_carries_yaml_settings():
    assert parse_spec("tome_paper:r=8") == ("tome_paper", {"r": 8})
    assert parse_spec("token_drop: keep_rates=[0.9,0.81]; drop_layers=[1,1]") == (
        "token_drop",
        {"keep_rates": [0.9, 0.81], "drop_layers": [1, 1]},
    )
    assert parse_spec("C") == ("C", {})
    with pytest.raises(ValueError, match="key=value"):
        parse_spec("tome:r8")


def test_inline_settings_reach_the_method_and_name_the_row():
    tower = load_vision_model("tiny-siglip")
    method = build_method("tome_paper:r=3", tower, GATE, keep_fraction=0.2)
    assert method.name == "tome_paper:r=3" and method.arch.r == 3
    with pytest.raises(ValueError, match="takes no settings"):
        build_method("plain:x=1", tower, GATE, keep_fraction=0.2)


def test_methods_with_their_own_keep_control_run_at_the_keep_fraction():
    tower = load_vision_model("tiny-siglip")
    eventful = build_method("eventful", tower, GATE, keep_fraction=0.6)
    assert eventful.arch.policy == "top_r" and eventful.arch.keep_fraction == 0.6
    grid = build_method("grid_C", tower, GATE, keep_fraction=0.3)
    assert grid.arch.gate.config.keep_fraction == 0.3
    c = build_method("C", tower, GATE, keep_fraction=0.3)  # the searched threshold gate
    assert c.arch.gate.config.mode == "threshold" and c.arch.gate.config.threshold == 0.1


def test_an_unreachable_method_is_left_out_and_reported():
    tower = load_vision_model("tiny-siglip")  # 2 blocks: ToMe cannot keep 0.2
    missed = []
    methods = build_methods(
        ["C", "tome"], tower, GATE, keep_fraction=0.2, on_unreachable=lambda *a: missed.append(a)
    )
    assert list(methods) == ["dense", "C"] and missed[0][0] == "tome"
    assert "lowest reachable" in missed[0][1]
    with pytest.raises(ValueError, match="lowest reachable"):
        build_methods(["tome"], tower, GATE, keep_fraction=0.2)


def test_a_calibrated_method_needs_its_setting_inline():
    tower = load_vision_model("tiny-siglip")
    with pytest.raises(ValueError, match="frame_reuse:threshold="):
        build_method("frame_reuse", tower, GATE, keep_fraction=0.3)
    method = build_method("frame_reuse:threshold=0.05", tower, GATE, keep_fraction=0.3)
    assert method.arch.gate.config.threshold == 0.05
