"""The harness is fair: identical work times as 1.0x, double work as 0.5x."""

from __future__ import annotations

import pytest
import torch
from transformers import SiglipVisionConfig, SiglipVisionModel

from neuroflow.archs import make_arch
from neuroflow.bench.methods import ArchMethod, BenchMethod, Repeated
from neuroflow.bench.runner import run_interleaved
from neuroflow.models import wrap_tower


def small_dense() -> ArchMethod:
    torch.manual_seed(0)
    config = SiglipVisionConfig(
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=64,
        patch_size=8,
    )
    return ArchMethod(make_arch("dense", wrap_tower(SiglipVisionModel(config)).eval()))


def fairness_ratios() -> tuple[float, float, int]:
    dense = small_dense()
    same = ArchMethod(dense.arch, name="dense_again")
    methods: dict[str, BenchMethod] = {"dense": dense, "same": same, "twice": Repeated(dense, 2)}
    runs = run_interleaved(methods, list(torch.randn(61, 1, 3, 64, 64).unbind(0)), warmup=3)
    base = runs["dense"].stats.median
    counts = {len(r.seconds) for r in runs.values()}
    return base / runs["same"].stats.median, base / runs["twice"].stats.median, counts.pop()


def test_dense_against_itself_is_one_and_double_work_is_half(one_thread):
    # Other jobs share this 2-core machine: a burst of load can skew one attempt, so up to
    # three attempts are made; a harness that is unfair fails all of them.
    for _ in range(3):
        same, twice, timed = fairness_ratios()
        assert timed == 60  # the keyframe after the reset is left out
        if abs(same - 1.0) <= 0.12 and abs(twice - 0.5) <= 0.06:
            return
    pytest.fail(f"identical work timed {same:.3f}x, double work {twice:.3f}x (want 1.0, 0.5)")


class Recorder(BenchMethod):
    """Logs calls; its state counts frames since the last reset."""

    def __init__(self, name: str, log: list):
        self.name, self.log = name, log

    def new_state(self, batch: int) -> dict:
        return {"frames": 0}

    def reset(self, state: dict) -> None:
        state["frames"] = 0
        self.log.append((self.name, "reset"))

    def __call__(self, pixels, state):
        state["frames"] += 1
        self.log.append((self.name, int(pixels.flatten()[0]), state["frames"]))
        return torch.full((pixels.shape[0],), 0.25)


def test_warmup_reset_and_rounds():
    log: list = []
    methods = {n: Recorder(n, log) for n in ("a", "b", "c")}
    batches = [torch.full((2, 1, 1, 1), float(t)) for t in range(5)]
    runs = run_interleaved(methods, batches, warmup=2, round_frames=2, seed=1)
    warm, rest = log[:6], log[6:]
    assert [e[1] for e in warm] == [0, 0, 0, 1, 1, 1]  # warm-up on the real, moving frames
    assert rest[:3] == [("a", "reset"), ("b", "reset"), ("c", "reset")]
    timed = rest[3:]
    assert all(e[2] == e[1] + 1 for e in timed)  # each method restarted at frame 0
    rounds = [timed[0:6], timed[6:12], timed[12:15]]
    for frames, entries in zip(([0, 1], [2, 3], [4]), rounds, strict=True):
        order = [e[0] for e in entries[:: len(frames)]]
        assert sorted(order) == ["a", "b", "c"]  # every method takes one turn per round
        for k, name in enumerate(order):  # ... running the round's frames back to back
            turn = entries[k * len(frames) : (k + 1) * len(frames)]
            assert [(e[0], e[1]) for e in turn] == [(name, f) for f in frames]
    assert runs["a"].keep_fraction == pytest.approx(0.25)
    assert len(runs["a"].seconds) == 4  # the keyframe is left out
    with pytest.raises(ValueError, match="round_frames"):
        run_interleaved(methods, batches, round_frames=0)


def test_rejects_too_few_frames():
    with pytest.raises(ValueError, match="at least 2 frames"):
        run_interleaved({"a": Recorder("a", [])}, [torch.zeros(1, 1, 1, 1)])
    with pytest.raises(ValueError, match="no methods"):
        run_interleaved({}, [torch.zeros(1, 1, 1, 1)] * 2)
