"""With every token kept, each architecture equals the HF model's pooled output."""

import pytest
import torch

from neuroflow import load_vision_model, make_arch
from neuroflow.archs import get_method, method_names, method_settings
from tests.helpers import moving_square_clip

FAMILIES = ["tiny-siglip", "tiny-clip", "tiny-vit"]
# Every registered method: a new architecture or baseline is checked without editing this file.
METHODS = method_names()
SPARSE = [name for name in METHODS if get_method(name).uses_gate]


def test_the_registry_holds_the_paper_architectures():
    assert {"dense", "A", "B", "C", "D"} <= set(METHODS)


def hf_pooled(tower, pixels):
    native = pixels.shape[-1] == tower.native_image_size
    return tower.hf(pixel_values=pixels, interpolate_pos_encoding=not native).pooler_output


@pytest.mark.parametrize("source", FAMILIES)
@pytest.mark.parametrize("arch", METHODS)
@pytest.mark.parametrize("size", [32, 48, 16])
def test_keep_all_equals_hf(source, arch, size):
    tower = load_vision_model(source)
    # Every method at keep fraction 1 (its own keep settings; gated ones a full budget).
    full = {"mode": "budget", "keep_fraction": 1.0} if arch in SPARSE else {}
    model = make_arch(arch, tower, **{**full, **get_method(arch).keep_settings(1.0)})
    clip = moving_square_clip(frames=3, size=size, square=size // 4, batch=3)
    state = model.new_state(3)
    with torch.inference_mode():
        for frame in clip:  # later frames go through the gate, the cache and the anchors
            out = model(frame, state)
            diff = (out.embedding - hf_pooled(tower, frame)).abs().max().item()
            assert diff <= 1e-5, f"{arch} on {source} at {size}px differs by {diff}"
            assert out.keep_fraction.eq(1).all()


@pytest.mark.parametrize("arch", SPARSE)
def test_floor_of_all_tokens_is_exact_in_threshold_mode(arch):
    tower = load_vision_model("tiny-siglip")
    # The method's own keep-all settings (no merging, ...) besides the gate's floor of every patch.
    cls = get_method(arch)
    own = {k: v for k, v in cls.keep_settings(1.0).items() if k in method_settings(cls)}
    model = make_arch(arch, tower, threshold=2.0, floor_tokens=64, **own)
    clip = moving_square_clip(frames=3, batch=2)
    state = model.new_state(2)
    with torch.inference_mode():
        for frame in clip:
            out = model(frame, state)
            assert torch.allclose(out.embedding, hf_pooled(tower, frame), atol=1e-5)
