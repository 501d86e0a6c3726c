"""Plain loop, calibration controls and the method registry."""

from __future__ import annotations

import pytest
import torch

from neuroflow.archs import make_arch
from neuroflow.bench.methods import ArchMethod, Repeated
from neuroflow.bench.plain_loop import PlainLoop, hf_layers
from neuroflow.bench.registry import build_method, build_methods, build_tower
from neuroflow.core.gate import GateConfig
from neuroflow.models import load_vision_model
from neuroflow.models.dtypes import parse_dtype
from tests.unit.bench.test_ceiling import vit_b16, with_folded_head

BD = with_folded_head(vit_b16(224))


@pytest.mark.parametrize("family", ["siglip", "clip", "vit"])
def test_plain_loop_equals_arch_c(family, frames):
    tower = load_vision_model(f"tiny-{family}")
    gate = GateConfig(threshold=0.02, ema_decay=0.2)
    plain, arch = PlainLoop(tower, gate), make_arch("C", tower, gate=gate)
    batch = torch.stack([frames, frames.flip(0)], dim=1)  # 2 streams, different motion
    s_plain, s_arch = plain.new_state(2), arch.new_state(2)
    kept = []
    with torch.inference_mode():
        for frame in batch:
            emb, keep = plain.forward_pooled(frame, s_plain)
            out = arch(frame, s_arch)
            torch.testing.assert_close(emb, out.embedding, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(keep, out.keep_fraction)
            kept.append(float(keep.mean()))
    assert min(kept) < 1.0  # the gate did drop tokens, so the sparse path was exercised


def test_plain_loop_needs_a_dense_first_frame(tower):
    with pytest.raises(ValueError, match="dense_first_frame"):
        PlainLoop(tower, GateConfig(dense_first_frame=False))
    assert len(hf_layers(tower)) == 2


def test_repeated_runs_its_method_n_times(tower, frames):
    calls = []
    dense = ArchMethod(make_arch("dense", tower))
    original = dense.arch.forward
    dense.arch.forward = lambda *a: calls.append(1) or original(*a)
    twice = Repeated(dense, 3)
    assert twice.name == "dense_x3" and twice.repeats == 3 and twice.cost_model == "dense x3"
    state = twice.new_state(1)
    with torch.inference_mode():
        keep = twice(frames[:1], state)
    assert len(calls) == 3 and keep.tolist() == [1.0]
    with pytest.raises(ValueError):
        Repeated(dense, 0)


def test_registry_builds_every_method(tower):
    gate = GateConfig(threshold=0.1)
    names = ["C", "A", "B", "D", "plain", "random_B", "random_C", "dense_x2", "hf_dense"]
    methods = build_methods(names, tower, gate, keep_fraction=0.25, dense_layers=1)
    assert list(methods)[0] == "dense"  # always there, always first
    assert methods["D"].arch.dense_layers == 1 and methods["random_C"].cost_model == "random_C"
    assert methods["random_C"].arch.gate.config.keep_fraction == 0.25  # matched to the gate
    assert methods["dense_x2"].flops(BD, 0.5) == 2 * methods["dense"].flops(BD, 0.5)
    assert methods["plain"].flops(BD, 0.3) > methods["C"].flops(BD, 0.3)  # the HF head's K/V
    with pytest.raises(ValueError, match="unknown bench methods"):
        build_methods(["Z"], tower, gate, keep_fraction=0.2)
    with pytest.raises(ValueError, match="unknown bench method"):
        build_method("nope", tower, gate, keep_fraction=0.2)


def test_build_tower_labels_random_weights():
    loaded = build_tower("tiny-siglip", torch.float32, "cpu")
    assert loaded.random_weights and "random weights" in loaded.label
    with pytest.raises(OSError, match="random:resnet"):
        build_tower("random:resnet", torch.float32, "cpu")
    with pytest.raises(ValueError, match="unknown dtype"):
        parse_dtype("float8")
