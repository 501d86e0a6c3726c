"""Methods at matched keep fractions: keep settings, calibration, unreachable k, FLOP counts."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch

from neuroflow.archs import Architecture, Dense, KeepUnreachable, make_arch, registered
from neuroflow.archs.base import ArchOutput, StreamState
from neuroflow.core.gate import GateConfig
from neuroflow.glyphs.matched import build_matched, frame_flops


class EveryNth(Dense):
    """Toy calibrated method: recomputes a frame when ``threshold`` < 0.5, else reuses it."""

    name = "every_nth_toy"
    uses_gate = True
    calibrated: ClassVar[str | None] = "threshold"

    def __init__(self, tower, gate):
        Architecture.__init__(self, tower, gate)

    def step(self, emb, state: StreamState) -> ArchOutput:
        out = super().step(emb, state)
        thr = float(self.gate.config.threshold)
        share = torch.full_like(out.keep_fraction, max(0.0, 1.0 - thr))
        return ArchOutput(out.embedding, out.keep_mask, out.surprise, share, out.stretch)


class Shallow(Dense):
    """Toy method with its own keep setting that cannot go below 0.5."""

    name = "shallow_toy"

    def __init__(self, tower, keep_fraction: float = 1.0):
        if keep_fraction < 0.5:
            raise KeepUnreachable(f"lowest reachable keep is 0.5, asked {keep_fraction}")
        super().__init__(tower)

    @classmethod
    def keep_settings(cls, keep_fraction: float) -> dict[str, Any]:
        return {"keep_fraction": keep_fraction}


def test_gated_methods_run_a_budget_gate_at_k(tower):
    matched = build_matched("C", tower, 0.25, GateConfig(ema_decay=0.3), lambda a: 0.0)
    assert matched.unreachable is None and matched.settings == {
        "mode": "budget",
        "keep_fraction": 0.25,
    }
    assert matched.arch.gate.config.mode == "budget" and matched.arch.gate.config.ema_decay == 0.3


def test_a_calibrated_setting_is_bisected_on_the_calibration_keep(tower):
    calls = []

    def calibration_keep(arch):
        calls.append(arch.gate.config.threshold)
        return 1.0 - arch.gate.config.threshold  # what EveryNth keeps

    with registered(EveryNth):
        matched = build_matched("every_nth_toy", tower, 0.3, GateConfig(), calibration_keep)
    assert matched.unreachable is None and len(calls) > 2
    assert matched.settings["threshold"] == pytest.approx(0.7, abs=0.01)
    assert matched.calibration_keep == pytest.approx(0.3, abs=0.01)


def test_a_calibration_that_cannot_reach_k_is_unreachable(tower):
    with registered(EveryNth):
        matched = build_matched("every_nth_toy", tower, 0.3, GateConfig(), lambda a: 1.0)
    assert matched.arch is None and "reaches keep 1.000" in matched.unreachable


def test_an_unreachable_keep_is_recorded_not_run(tower):
    with registered(Shallow):
        low = build_matched("shallow_toy", tower, 0.2, GateConfig(), lambda a: 0.0)
        high = build_matched("shallow_toy", tower, 0.6, GateConfig(), lambda a: 0.0)
    assert low.arch is None and "lowest reachable keep is 0.5" in low.unreachable
    assert high.arch is not None and high.settings == {"keep_fraction": 0.6}


class Broken(Shallow):
    """Toy method whose construction fails for another reason than the keep fraction."""

    name = "broken_toy"

    def __init__(self, tower, keep_fraction: float = 1.0):
        raise ValueError("a bug, not an unreachable keep")


def test_other_errors_are_not_taken_for_unreachable(tower):
    with registered(Broken), pytest.raises(ValueError, match="a bug"):
        build_matched("broken_toy", tower, 0.6, GateConfig(), lambda a: 0.0)


def test_frame_flops_follow_the_keep_fraction(tower, frames):
    clips = frames[:4].unsqueeze(0).repeat(2, 1, 1, 1, 1)  # [2, 4, 3, 32, 32]
    dense = frame_flops(make_arch("dense", tower), clips)
    half = frame_flops(make_arch("C", tower, mode="budget", keep_fraction=0.5), clips)
    quarter = frame_flops(make_arch("C", tower, mode="budget", keep_fraction=0.25), clips)
    assert dense > half > quarter > 0
    with pytest.raises(ValueError, match="at least 2 frames"):
        frame_flops(make_arch("dense", tower), clips[:, :1])


def test_inline_settings_come_on_top_of_the_keep_settings(tower):
    matched = build_matched("C:max_cache_age=4", tower, 0.25, GateConfig(), lambda a: 0.0)
    assert matched.name == "C:max_cache_age=4"
    assert matched.settings == {"mode": "budget", "keep_fraction": 0.25, "max_cache_age": 4}
    assert matched.arch.gate.config.max_cache_age == 4
    with registered(EveryNth):
        fixed = build_matched(
            "every_nth_toy:threshold=0.6", tower, 0.3, GateConfig(), lambda a: 1 / 0
        )
    assert fixed.calibration_keep is None and fixed.arch.gate.config.threshold == 0.6


def test_refreshes_beyond_the_budget_are_matched_by_a_lower_budget(tower):
    # Keep of the toy "calibration clips": the budget plus a quarter of the patches refreshed.
    def calibration_keep(arch):
        return arch.gate.config.keep_fraction + 0.25

    matched = build_matched("C:max_cache_age=4", tower, 0.5, GateConfig(), calibration_keep)
    assert matched.arch is not None
    assert matched.calibration_keep == pytest.approx(0.5, abs=0.01)
    assert matched.arch.gate.config.keep_fraction == pytest.approx(0.25, abs=0.01)
    assert matched.settings["keep_fraction"] == matched.arch.gate.config.keep_fraction
    # Refreshes that alone keep more than the target leave it unreachable, with the reason.
    alone = build_matched("C:max_cache_age=2", tower, 0.2, GateConfig(), lambda a: 0.5)
    assert alone.arch is None and "refreshes alone keep 0.500" in alone.unreachable
