import pytest
import torch

from neuroflow.core.gate import GateConfig
from neuroflow.distill.curriculum import Curriculum


def test_draws_lie_in_the_ranges_and_differ_per_clip():
    curriculum = Curriculum(threshold=(0.1, 0.2), ema_decay=(0.01, 0.05))
    draw = curriculum.draw(64, torch.Generator().manual_seed(0))
    assert draw.keep_fraction is None
    assert ((draw.threshold >= 0.1) & (draw.threshold <= 0.2)).all()
    assert ((draw.ema_decay >= 0.01) & (draw.ema_decay <= 0.05)).all()
    assert draw.threshold.unique().numel() == 64  # every clip its own threshold


def test_same_generator_seed_gives_the_same_draw():
    curriculum = Curriculum()
    a = curriculum.draw(8, torch.Generator().manual_seed(3))
    b = curriculum.draw(8, torch.Generator().manual_seed(3))
    assert torch.equal(a.threshold, b.threshold) and torch.equal(a.ema_decay, b.ema_decay)


def test_budget_mode_draws_one_keep_fraction_and_sets_the_gate():
    curriculum = Curriculum(mode="budget", keep_fraction=(0.1, 0.3))
    draw = curriculum.draw(4, torch.Generator().manual_seed(0))
    assert 0.1 <= draw.keep_fraction <= 0.3
    base = GateConfig(threshold=0.35, floor_tokens=2, signal="patch")
    gate = curriculum.gate_config(base, draw)
    assert gate.mode == "budget" and gate.keep_fraction == draw.keep_fraction
    assert gate.floor_tokens == 2 and gate.signal == "patch"  # the base's other settings stay


def test_threshold_mode_gate_is_threshold_mode_even_from_a_budget_base():
    curriculum = Curriculum()
    draw = curriculum.draw(2, torch.Generator().manual_seed(0))
    gate = curriculum.gate_config(GateConfig(mode="budget", keep_fraction=0.5), draw)
    assert gate.mode == "threshold"


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"threshold": (-0.1, 0.3)}, "threshold"),
        ({"threshold": (0.1, 2.5)}, "threshold"),
        ({"ema_decay": (0.0, 0.1)}, "ema_decay"),
        ({"ema_decay": (0.1, 1.5)}, "ema_decay"),
        ({"keep_fraction": (0.0, 0.5)}, "keep_fraction"),
        ({"threshold": (0.3, 0.1)}, "threshold"),
        ({"threshold": (0.1,)}, "threshold"),
    ],
)
def test_ranges_outside_the_gate_are_refused(kwargs, word):
    with pytest.raises(ValueError, match=f"curriculum {word}"):
        Curriculum(**kwargs)


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode"):
        Curriculum(mode="random")
