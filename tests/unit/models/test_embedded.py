"""What the tower hands the gates and the head: patch pixels, size-weighted pooling."""

from __future__ import annotations

import pytest
import torch

from neuroflow.models import load_vision_model


def test_patch_pixels_are_the_frames_patches_in_token_order(tower, frames):
    emb = tower.embed(frames[:2])
    pixels = emb.gate_features("pixels")
    assert pixels.shape == (2, 64, 3 * 4 * 4)
    # Patch (row 1, col 2) of frame 1: pixels [4:8, 8:12] of every channel.
    torch.testing.assert_close(pixels[1, 1 * 8 + 2], frames[1, :, 4:8, 8:12].reshape(-1))
    # The patch projection is a linear map of exactly these pixels.
    conv = tower.hf.embeddings.patch_embedding
    projected = pixels @ conv.weight.reshape(conv.out_channels, -1).T + conv.bias
    torch.testing.assert_close(projected, emb.patch_features, atol=1e-5, rtol=1e-5)


def test_patch_pixels_need_the_frames(tower, frames):
    emb = tower.embed(frames[:1])
    emb.pixels = None
    with pytest.raises(ValueError, match="without their frames"):
        emb.gate_features("pixels")


def test_unit_sizes_pool_like_no_sizes(tower, frames):
    hidden = tower.encode(tower.embed(frames[:3]).tokens)
    torch.testing.assert_close(
        tower.fast_pool(hidden, torch.ones(3, 64)), tower.fast_pool(hidden), atol=1e-6, rtol=1e-6
    )


def test_a_token_of_size_two_pools_like_the_token_twice(tower, frames):
    hidden = tower.encode(tower.embed(frames[:2]).tokens)
    doubled = torch.cat([hidden, hidden[:, :1]], dim=1)
    sizes = torch.ones(2, 64)
    sizes[:, 0] = 2
    torch.testing.assert_close(
        tower.fast_pool(hidden, sizes), tower.fast_pool(doubled), atol=1e-5, rtol=1e-5
    )
    assert not torch.allclose(tower.fast_pool(hidden, sizes), tower.fast_pool(hidden), atol=1e-4)


def test_class_token_heads_ignore_sizes(frames):
    vit = load_vision_model("tiny-vit")
    hidden = vit.encode(vit.embed(frames[:1]).tokens)
    sizes = torch.rand(1, hidden.shape[1]) + 1
    torch.testing.assert_close(vit.fast_pool(hidden, sizes), vit.fast_pool(hidden))
