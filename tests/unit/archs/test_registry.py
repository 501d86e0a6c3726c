"""A method registered in one place reaches make_arch, the evaluator, the benchmark and the
FLOP ceiling with no other edit; make_arch names the settings that do not apply."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from neuroflow.archs import (
    ArchC,
    accepted_settings,
    get_method,
    make_arch,
    method_names,
    method_settings,
    registered,
)
from neuroflow.bench.ceiling import ceiling, method_flops
from neuroflow.bench.flops import FlopBreakdown
from neuroflow.bench.registry import build_methods, known_methods
from neuroflow.bench.suite import BenchSettings, run_benchmark
from neuroflow.core.gate import GateConfig
from neuroflow.lit.build import build_archs
from neuroflow.models import load_vision_model
from tests.confs import compose_eval
from tests.unit.bench.conftest import write_clip
from tests.unit.bench.test_ceiling import vit_b16


class Toy(ArchC):
    """A stand-in for a new method: Arch C with one setting and a cost model of its own."""

    name = "toy"

    def __init__(self, tower, gate, cache=None, label: str = "plain") -> None:
        super().__init__(tower, gate, cache)
        self.label = label

    @classmethod
    def encoder_flops(cls, bd: Any, n: float, **settings: Any) -> float:
        return 2 * bd.block_cost(n, bd.layers)  # visibly different from C's


@pytest.fixture
def toy():
    with registered(Toy) as cls:
        yield cls
    assert "toy" not in method_names()


def test_the_toy_is_found_by_name(toy):
    assert "toy" in method_names() and get_method("TOY") is Toy
    assert method_settings(Toy) == {"label": "plain"}
    assert "label" in accepted_settings(Toy) and "threshold" in accepted_settings(Toy)


def test_make_arch_builds_the_toy_and_rejects_what_does_not_apply(toy):
    tower = load_vision_model("tiny-siglip")
    model = make_arch("toy", tower, label="fancy", threshold=0.1)
    assert isinstance(model, Toy) and model.label == "fancy" and model.gate.config.threshold == 0.1
    with pytest.raises(ValueError, match="dense_layers does not apply to method 'toy'"):
        make_arch("toy", tower, dense_layers=2)
    with pytest.raises(ValueError, match="label does not apply to method 'C'"):
        make_arch("C", tower, label="fancy")


def test_the_evaluator_builds_the_toy_from_config(toy, tmp_path):
    cfg = compose_eval(["arch=c", "arch.name=toy", "+arch.label=cfg"], tmp_path)
    dense, sparse = build_archs(cfg, load_vision_model("tiny-siglip"))
    assert isinstance(sparse, Toy) and sparse.label == "cfg" and dense.name == "dense"


def test_the_ceiling_reads_the_toys_cost_model(toy):
    bd = vit_b16(224)
    expected = bd.dense / Toy.frame_flops(bd, 0.2)
    assert ceiling(bd, 0.2, "toy") == pytest.approx(expected)
    assert method_flops(bd, 0.2, "toy") > method_flops(bd, 0.2, "C")


def test_the_benchmark_times_the_toy(toy, tmp_path):
    tower = load_vision_model("tiny-siglip")
    assert "toy" in known_methods()
    methods = build_methods(["toy"], tower, GateConfig(), keep_fraction=0.3)
    assert list(methods) == ["dense", "toy"] and isinstance(methods["toy"].arch, Toy)
    clip = write_clip(tmp_path / "clip.mp4", frames=6)
    settings = BenchSettings(
        model="tiny-siglip", video=str(clip), start=0, frames=4, warmup=1, resolutions=[32],
        methods=["toy"], target_keep=[], flop_frames=1,
    )  # fmt: skip
    report = run_benchmark(settings, log=lambda _: None)
    row = next(r for r in report.rows if r["method"] == "toy")
    names = {f.name for f in dataclasses.fields(FlopBreakdown)}
    bd = FlopBreakdown(**{k: v for k, v in report.breakdowns[0].items() if k in names})
    assert row["cost_model"] == "toy" and row["k"] < 1.0
    assert row["ceiling"] == pytest.approx(bd.dense / Toy.frame_flops(bd, row["k_median"]))


def test_keep_settings_default_to_a_budget_gate_and_follow_the_gate():
    assert get_method("C").keep_settings(0.3) == {"mode": "budget", "keep_fraction": 0.3}
    assert get_method("dense").keep_settings(0.3) == {}
    assert get_method("C").keep_follows_gate() and not get_method("dense").keep_follows_gate()
    with pytest.raises(ValueError, match="keep fraction"):
        get_method("C").keep_settings(0.0)


def test_a_methods_own_setting_wins_over_the_gate_setting_of_the_same_name(tower):
    class OwnKeep(ArchC):
        name = "own_keep_toy"

        def __init__(self, tower, gate, cache=None, keep_fraction: float = 1.0):
            super().__init__(tower, gate, cache)
            self.own_keep = keep_fraction

    with registered(OwnKeep):
        arch = make_arch("own_keep_toy", tower, keep_fraction=0.4, mode="budget")
    assert arch.own_keep == 0.4 and arch.gate.config.keep_fraction == 0.2  # the gate default
