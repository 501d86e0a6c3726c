"""Architectures with an event-triggered refresh: exactness, counting, streams, settings."""

from __future__ import annotations

import pytest
import torch

from neuroflow import load_vision_model, make_arch
from neuroflow.archs import accepted_settings, get_method
from neuroflow.core.refresh import EventRefresh
from tests.helpers import moving_square_clip
from tests.unit.archs.test_exactness import hf_pooled

TRIGGER_ALWAYS = {"refresh_trigger": 0.0}


@pytest.fixture(scope="module")
def tower():
    return load_vision_model("tiny-siglip")


@pytest.mark.parametrize("name", ["C", "D", "E"])
@pytest.mark.parametrize("signal", ["drift", "pooled", "surprise"])
def test_keep_all_with_a_refresh_equals_dense(tower, name, signal):
    arch = make_arch(
        name, tower, mode="budget", keep_fraction=1.0, refresh_signal=signal, **TRIGGER_ALWAYS
    )
    state = arch.new_state(2)
    with torch.inference_mode():
        for frame in moving_square_clip(frames=3, batch=2):
            diff = (arch(frame, state).embedding - hf_pooled(tower, frame)).abs().max()
            assert diff <= 1e-5


def test_refreshed_patches_count_in_the_keep_fraction(tower):
    clip = moving_square_clip(frames=4, batch=2)
    plain = make_arch("C", tower, mode="budget", keep_fraction=0.25)
    refreshed = make_arch(
        "C", tower, mode="budget", keep_fraction=0.25, refresh_response="keyframe", **TRIGGER_ALWAYS
    )
    keeps = {}
    for name, arch in (("plain", plain), ("refreshed", refreshed)):
        state = arch.new_state(2)
        with torch.inference_mode():
            keeps[name] = [arch(frame, state).keep_fraction.tolist() for frame in clip]
    assert keeps["plain"][2] == [0.25, 0.25]
    # Frame 1 fires (trigger 0), so frame 2 is a dense keyframe of both streams.
    assert keeps["refreshed"][1] == [0.25, 0.25] and keeps["refreshed"][2] == [1.0, 1.0]


def test_only_the_streams_whose_content_changed_are_refreshed(tower):
    moving = moving_square_clip(frames=4, batch=1)
    still = moving[:1].expand_as(moving)  # the first frame, repeated: nothing changes
    clip = torch.cat([moving, still], dim=1)  # [T, 2, C, H, W]
    arch = make_arch(
        "C",
        tower,
        mode="budget",
        keep_fraction=0.25,
        refresh_signal="surprise",
        refresh_trigger=1e-4,
        refresh_response="keyframe",
    )
    state = arch.new_state(2)
    with torch.inference_mode():
        keeps = [arch(frame, state).keep_fraction.tolist() for frame in clip]
    assert keeps[2][1] == 0.25  # the still stream never fires
    assert keeps[2][0] == 1.0  # the moving one did, on frame 1
    # (The pooled embedding of a still stream moves too: its recomputed tokens lose context.)


def test_refresh_settings_are_checked(tower):
    assert "refresh_signal" in accepted_settings(get_method("C"))
    assert "refresh_signal" not in accepted_settings(get_method("A"))
    with pytest.raises(ValueError, match="takes no event-triggered refresh"):
        make_arch("A", tower, refresh_signal="pooled")
    with pytest.raises(ValueError, match="not both"):
        make_arch("C", tower, refresh=EventRefresh(), refresh_budget=0.5)
    with pytest.raises(ValueError, match="refresh requests"):
        make_arch("random_C", tower, refresh_signal="pooled")
    built = make_arch("C", tower, refresh=EventRefresh(signal="drift"))
    assert built.refresh.signal == "drift"
