"""The CPU speed paths the benchmark relies on stay exact and never go stale.

(Packed oneDNN linears in ``models/cpu_kernels.py``, the folded MAP head in
``models/map_head.py``.) A torch build without the oneDNN ops skips the tests of the packed
path and must still import and run the plain one, which the missing-op tests simulate.
"""

from __future__ import annotations

import copy
import io
import subprocess
import sys

import pytest
import torch

from neuroflow.bench.flops import extra_formulas, flop_counter
from neuroflow.models import cpu_kernels, load_vision_model
from neuroflow.models.cpu_kernels import (
    BlockKernels,
    KernelsUnavailable,
    MapHeadKernels,
    PackedLinear,
    onednn_available,
)

needs_onednn = pytest.mark.skipif(
    not onednn_available(), reason="this torch build has no oneDNN packed-linear ops"
)
PACKED_LINEAR = "mkldnn._linear_pointwise"
CPU_FLASH = "aten._scaled_dot_product_flash_attention_for_cpu"


def hf_pooled(tower, pixels):
    return tower.hf(pixel_values=pixels).pooler_output


class Without:
    """A ``torch.ops`` namespace that lacks some ops, as a build without them would."""

    def __init__(self, namespace, *missing: str) -> None:
        self._namespace, self._missing = namespace, set(missing)

    def __getattr__(self, name):
        if name in self._missing:
            raise AttributeError(f"no op {name}")
        return getattr(self._namespace, name)


def hide_ops(monkeypatch, *qualified: str) -> None:
    """Make ``torch.ops.<ns>.<name>`` look absent for each ``"ns.name"``."""
    by_namespace: dict[str, list[str]] = {}
    for q in qualified:
        namespace, name = q.split(".")
        by_namespace.setdefault(namespace, []).append(name)
    for namespace, names in by_namespace.items():
        real = getattr(torch.ops, namespace)  # creates the namespace, so there is one to patch
        monkeypatch.setattr(torch.ops, namespace, Without(real, *names))


@needs_onednn
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


@needs_onednn
def test_float32_forward_runs_the_packed_linears():
    tower = load_vision_model("tiny-siglip")
    pixels = torch.randn(1, 3, 32, 32)
    with torch.inference_mode():
        kernels = tower.blocks[0].kernels(torch.randn(1, 4, 32))
        assert isinstance(kernels, BlockKernels) and kernels.mlp is not None
        tokens = tower.embed(pixels).tokens
        tower.fast_pool(tokens)  # builds the head's kernels (W_k^T q once: not per-frame work)
        with flop_counter() as counter:
            tower.fast_pool(tower.encode(tokens))
    ops = {str(op) for op in counter.get_flop_counts()["Global"]}
    assert PACKED_LINEAR in ops  # the blocks and the head ran on packed weights ...
    assert "aten.addmm" not in ops  # ... and no linear layer (all have biases) ran plain
    assert isinstance(tower._head_kernels, MapHeadKernels)


@needs_onednn
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
        for block in tower.blocks:
            block.cpu_kernels = False  # the folded head on plain weights, without autograd
        torch.testing.assert_close(tower.fast_pool(hidden), expected, atol=1e-5, rtol=0)


@needs_onednn
@pytest.mark.parametrize("tokens", [1, 5, 64])
def test_packed_head_is_used_and_exact(tokens):
    tower = load_vision_model("tiny-siglip")
    hidden = torch.randn(3, tokens, 32) * 3
    expected = tower.pool(hidden)
    with torch.inference_mode():
        torch.testing.assert_close(tower.fast_pool(hidden), expected, atol=1e-5, rtol=0)
        assert tower._head_kernels is not None  # the packed head ran
        tower.blocks[0].cpu_kernels = False
        assert tower.head_kernels(tower.hf.head, hidden) is None  # the blocks' switch


def test_folded_head_passes_gradients():
    tower = load_vision_model("tiny-siglip")
    hidden = torch.randn(2, 6, 32, requires_grad=True)
    tower.fast_pool(hidden).sum().backward()
    reference = hidden.detach().clone().requires_grad_(True)
    tower.pool(reference).sum().backward()
    torch.testing.assert_close(hidden.grad, reference.grad, atol=1e-5, rtol=0)


@needs_onednn
def test_towers_with_packed_kernels_copy_and_pickle():
    tower = load_vision_model("tiny-siglip")
    pixels = torch.randn(1, 3, 32, 32)
    with torch.inference_mode():
        expected = tower(pixels)
        tower.fast_pool(torch.randn(1, 4, 32))
    assert tower.blocks[0]._kernels is not None and tower._head_kernels is not None
    twin = copy.deepcopy(tower)  # oneDNN tensors have no storage: the caches are dropped
    assert twin.blocks[0]._kernels is None and twin._head_kernels is None
    buffer = io.BytesIO()
    torch.save(tower, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    with torch.inference_mode():
        torch.testing.assert_close(twin(pixels), expected)
        torch.testing.assert_close(loaded(pixels), expected)
        assert twin.blocks[0].kernels(torch.randn(1, 4, 32)) is not None  # rebuilt on use


def test_missing_ops_take_the_plain_path(monkeypatch):
    # Only the oneDNN ops: the CPU flash op is what SDPA runs here, so it cannot be hidden.
    hide_ops(monkeypatch, "mkldnn._reorder_linear_weight", PACKED_LINEAR)
    assert not onednn_available()
    assert PACKED_LINEAR not in {str(op) for op in extra_formulas()}
    with pytest.raises(KernelsUnavailable):
        PackedLinear(torch.randn(4, 4), None)
    tower = load_vision_model("tiny-siglip")
    pixels = torch.randn(2, 3, 32, 32)
    hidden = torch.randn(2, 7, 32)
    with torch.inference_mode():
        assert tower.blocks[0].kernels(torch.randn(1, 4, 32)) is None
        assert tower.head_kernels(tower.hf.head, hidden) is None
        torch.testing.assert_close(tower(pixels), hf_pooled(tower, pixels), atol=1e-5, rtol=0)
        torch.testing.assert_close(tower.fast_pool(hidden), tower.pool(hidden), atol=1e-5, rtol=0)
        with flop_counter() as counter:
            tower(pixels)
    assert counter.get_total_flops() > 0 and all(
        PACKED_LINEAR != str(op) for op in counter.get_flop_counts()["Global"]
    )


def test_registration_keeps_only_the_present_ops(monkeypatch):
    hide_ops(monkeypatch, CPU_FLASH)
    assert {str(op) for op in extra_formulas()} <= {PACKED_LINEAR}
    hide_ops(monkeypatch, PACKED_LINEAR)
    assert extra_formulas() == {}  # registration copes: nothing to register


def test_kernels_that_fail_to_build_fall_back_and_are_not_retried(monkeypatch):
    # A build that has the ops' names but cannot pack (e.g. no kernel for this dtype).
    monkeypatch.setattr(cpu_kernels, "onednn_available", lambda: True)
    hide_ops(monkeypatch, "mkldnn._reorder_linear_weight")
    tower = load_vision_model("tiny-siglip")
    pixels = torch.randn(1, 3, 32, 32)
    with torch.inference_mode():
        assert tower.blocks[0].kernels(torch.randn(1, 4, 32)) is None
        failed = tower.blocks[0]._kernels
        assert failed is not None  # the failure is remembered for these weights
        torch.testing.assert_close(tower(pixels), hf_pooled(tower, pixels), atol=1e-5, rtol=0)
        assert tower.blocks[0]._kernels is failed


def test_packages_import_on_a_build_without_the_ops():
    # Import-time code runs once per process, so hide the ops in a fresh interpreter.
    script = """
import torch
class Without:
    def __init__(self, namespace, *missing):
        self._namespace, self._missing = namespace, set(missing)
    def __getattr__(self, name):
        if name in self._missing:
            raise AttributeError(name)
        return getattr(self._namespace, name)
torch.ops.mkldnn = Without(torch.ops.mkldnn, "_reorder_linear_weight", "_linear_pointwise")
torch.ops.aten = Without(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu")
import neuroflow.bench, neuroflow.models
from neuroflow.bench.flops import EXTRA_FORMULAS
from neuroflow.models.cpu_kernels import onednn_available
assert EXTRA_FORMULAS == {} and not onednn_available()
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
