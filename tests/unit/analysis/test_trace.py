"""The trace pass: dense layers, Arch B and C side by side on the same gate decisions."""

from __future__ import annotations

import pytest
import torch

import neuroflow.analysis.trace as trace_module
from neuroflow.analysis.trace import TraceSettings, trace_clips
from neuroflow.archs import make_arch

pytestmark = pytest.mark.usefixtures("one_thread")
KEEP_ALL = TraceSettings(floor_tokens=64, batch=2)  # a floor of every patch keeps them all


@pytest.mark.parametrize(
    "bad",
    [
        {"threshold": -0.1},
        {"threshold": 2.5},
        {"ema_decay": 0.0},
        {"floor_tokens": -1},
        {"batch": 0},
        {"batch": 1.5},
    ],
)
def test_bad_settings_raise(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        TraceSettings(**bad)


@pytest.mark.parametrize(
    ("pixels", "match"),
    [
        (torch.zeros(2, 3, 32, 32), r"\[n, T, C, H, W\]"),
        (torch.zeros(1, 2, 3, 32, 32, dtype=torch.uint8), "floating-point"),
    ],
)
def test_malformed_clips_raise(tower, pixels, match):
    with pytest.raises(ValueError, match=match):
        next(trace_clips(tower, pixels))


def test_keeping_every_patch_gives_the_dense_and_hf_outputs(tower, moving):
    traces = list(trace_clips(tower, moving, KEEP_ALL))
    assert [(t.t, t.clips.tolist()) for t in traces] == [
        *((t, [0, 1]) for t in range(4)),
        *((t, [2]) for t in range(4)),
    ]
    for tr in traces:
        clips = moving[tr.clips, tr.t]
        with torch.no_grad():
            hf = tower.hf(pixel_values=clips, output_hidden_states=True)
        assert tr.keep.all() and tr.sparse_mask.all()
        assert len(tr.dense_layers) == len(tower.blocks) + 1
        for ours, theirs in zip(tr.dense_layers, hf.hidden_states, strict=True):
            torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
        dense = tr.pooled["dense"]
        torch.testing.assert_close(dense, hf.pooler_output, atol=1e-5, rtol=0)
        for condition in ("sparse_no_cache", "arch_c"):
            torch.testing.assert_close(tr.pooled[condition], dense, atol=1e-5, rtol=0)


def test_the_sparse_outputs_are_what_arch_b_and_c_pooled(tower, moving):
    settings = TraceSettings(threshold=0.0, floor_tokens=1, batch=3)
    traces = list(trace_clips(tower, moving, settings))
    later = torch.stack([tr.keep for tr in traces[1:]])
    assert later.any() and not later.all()  # the square's patches are kept, the rest not
    for tr in traces:
        mask = tr.sparse_mask
        assert torch.equal(tr.sparse_final[mask], tr.cache[mask])
        assert not tr.sparse_final[~mask].any()
        with torch.inference_mode():  # the traced tensors are inference tensors
            torch.testing.assert_close(tr.pooled["arch_c"], tower.fast_pool(tr.cache))
            for b in range(mask.shape[0]):
                alone = tower.fast_pool(tr.sparse_final[b, mask[b]][None])[0]
                torch.testing.assert_close(tr.pooled["sparse_no_cache"][b], alone)


def test_the_gate_decisions_are_arch_cs_own(tower, moving):
    settings = TraceSettings(threshold=0.0, floor_tokens=1, batch=3)
    arch = make_arch("C", tower, gate=settings.gate_config())
    state = arch.new_state(3)
    with torch.inference_mode():
        for tr in trace_clips(tower, moving, settings):
            out = arch(moving[:, tr.t], state)
            assert torch.equal(tr.keep, out.keep_mask)
            assert torch.equal(tr.surprise, out.surprise)
            assert torch.equal(tr.cache, state.cache)


def test_gates_that_disagree_raise(tower, moving, monkeypatch):
    def skewed(name, tower, gate):  # Arch B keeps every patch, C only the floor
        keep_all = TraceSettings(floor_tokens=64).gate_config() if name == "B" else gate
        return make_arch(name, tower, gate=keep_all)

    monkeypatch.setattr(trace_module, "make_arch", skewed)
    with pytest.raises(RuntimeError, match="different patches at frame 1"):
        list(trace_clips(tower, moving, TraceSettings(threshold=2.0, floor_tokens=1)))
