"""The CPU speed paths the benchmark relies on stay exact and never go stale.

(Packed oneDNN linears in ``models/blocks.py``, the folded MAP head in ``models/tower.py``.)
"""

from __future__ import annotations

import pytest
import torch

from neuroflow.models import load_vision_model


def hf_pooled(tower, pixels):
    return tower.hf(pixel_values=pixels).pooler_output


@pytest.mark.parametrize("family", ["siglip", "clip", "vit"])
def test_packed_path_is_used_without_autograd_and_is_exact(family):
    tower = load_vision_model(f"tiny-{family}")
    pixels = torch.randn(2, 3, 32, 32)
    h = torch.randn(1, 5, 32)
    block = tower.blocks[0]
    with torch.inference_mode():
        assert block.kernels(h) is not None
        torch.testing.assert_close(tower(pixels), hf_pooled(tower, pixels), atol=1e-5, rtol=0)
    with torch.no_grad():
        assert block.kernels(h) is not None
    assert block.kernels(h) is None  # autograd on: the plain modules run
    block.cpu_kernels = False
    with torch.inference_mode():
        assert block.kernels(h) is None


def test_updated_weights_are_repacked():
    tower = load_vision_model("tiny-siglip")
    pixels = torch.randn(1, 3, 32, 32)
    with torch.inference_mode():
        before = tower.blocks[0].kernels(torch.randn(1, 4, 32))
        tower(pixels)
    with torch.no_grad():
        for p in tower.parameters():
            p.mul_(1.1)  # e.g. an optimiser step or load_state_dict
    with torch.inference_mode():
        assert tower.blocks[0].kernels(torch.randn(1, 4, 32)) is not before
        torch.testing.assert_close(tower(pixels), hf_pooled(tower, pixels), atol=1e-5, rtol=0)
        hidden = torch.randn(1, 7, 32)
        torch.testing.assert_close(tower.fast_pool(hidden), tower.pool(hidden), atol=1e-5, rtol=0)


def test_weights_made_in_inference_mode_are_never_cached():
    with torch.inference_mode():
        tower = load_vision_model("tiny-siglip")
        pixels = torch.randn(1, 3, 32, 32)
        assert tower.blocks[0].kernels(torch.randn(1, 4, 32)) is None
        torch.testing.assert_close(tower(pixels), hf_pooled(tower, pixels), atol=1e-5, rtol=0)


@pytest.mark.parametrize("tokens", [1, 5, 64])
def test_folded_head_equals_the_hf_head(tokens):
    tower = load_vision_model("tiny-siglip")
    hidden = torch.randn(3, tokens, 32) * 3
    expected = tower.pool(hidden)
    torch.testing.assert_close(tower.fast_pool(hidden), expected, atol=1e-5, rtol=0)  # autograd
    with torch.inference_mode():
        torch.testing.assert_close(tower.fast_pool(hidden), expected, atol=1e-5, rtol=0)
        assert tower._head_kernels is not None  # the packed head ran


def test_folded_head_passes_gradients():
    tower = load_vision_model("tiny-siglip")
    hidden = torch.randn(2, 6, 32, requires_grad=True)
    tower.fast_pool(hidden).sum().backward()
    reference = hidden.detach().clone().requires_grad_(True)
    tower.pool(reference).sum().backward()
    torch.testing.assert_close(hidden.grad, reference.grad, atol=1e-5, rtol=0)


def test_towers_with_packed_kernels_copy_and_pickle():
    import copy
    import io

    tower = load_vision_model("tiny-siglip")
    pixels = torch.randn(1, 3, 32, 32)
    with torch.inference_mode():
        expected = tower(pixels)
        tower.fast_pool(torch.randn(1, 4, 32))
    twin = copy.deepcopy(tower)  # oneDNN tensors have no storage: the caches are dropped
    assert twin.blocks[0]._kernels is None and twin._head_kernels is None
    buffer = io.BytesIO()
    torch.save(tower, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    with torch.inference_mode():
        torch.testing.assert_close(twin(pixels), expected)
        torch.testing.assert_close(loaded(pixels), expected)
