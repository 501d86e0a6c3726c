"""Ragged attention backends equal per-stream SDPA; the backend setting and its errors."""

import pytest
import torch
import torch.nn.functional as F

from neuroflow import make_arch
from neuroflow.core import attention
from neuroflow.core.attention import (
    attention_backend,
    block_mask,
    masked_pays,
    resolve_backend,
    segment_attention,
    set_attention_backend,
    use_attention_backend,
    varlen_available,
)
from neuroflow.core.packing import Packing, make_packing
from tests.helpers import moving_square_clip

TOLERANCE = {torch.float32: 1e-5, torch.bfloat16: 2e-2, torch.float16: 2e-3}
# The backends that run on CPU; varlen needs CUDA (its glue is checked with a stand-in below).
RUNNABLE = ["split", "masked", "auto"]


def packing_for(lengths: list[int]) -> Packing:
    keep = torch.zeros(len(lengths), max(lengths), dtype=torch.bool)
    for b, n in enumerate(lengths):
        keep[b, :n] = True
    return make_packing(keep)


def per_stream_sdpa(q, k, v, lengths, scale):
    # fp32 reference: the half-precision results are compared to the exact answer.
    parts = (x.float().split(lengths, dim=2) for x in (q, k, v))
    outs = [F.scaled_dot_product_attention(*qkv, scale=scale) for qkv in zip(*parts, strict=True)]
    return torch.cat(outs, dim=2)


@pytest.mark.parametrize("backend", RUNNABLE)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("lengths", [[3, 17, 1, 9], [11], [5, 5, 5], [1, 1, 2, 1, 1, 1], [4, 0, 6]])
def test_backend_equals_per_stream_sdpa(backend, dtype, lengths):
    gen = torch.Generator().manual_seed(len(lengths))
    q, k, v = (torch.randn(1, 3, sum(lengths), 8, generator=gen).to(dtype) for _ in "qkv")
    packing = packing_for(lengths)
    with use_attention_backend(backend):
        out = segment_attention(q, k, v, packing, scale=0.4)
    assert out.dtype == dtype and out.shape == q.shape
    ref = per_stream_sdpa(q, k, v, lengths, 0.4)
    assert (out.float() - ref).abs().max().item() <= TOLERANCE[dtype]


@pytest.mark.parametrize("run", [attention.split_attention, attention.masked_attention])
def test_each_backend_function_handles_uniform_and_single_packs(run):
    # The dispatcher sends these to one batched SDPA; the functions must still be right.
    for lengths in ([4, 4], [7]):
        q, k, v = (torch.randn(1, 2, sum(lengths), 4) for _ in "qkv")
        out = run(q, k, v, packing_for(lengths), 0.5)
        assert torch.allclose(out, per_stream_sdpa(q, k, v, lengths, 0.5), atol=1e-5)


@pytest.mark.parametrize("backend", RUNNABLE)
def test_plain_batch_is_one_batched_call(backend):
    q, k, v = (torch.randn(2, 2, 5, 4) for _ in "qkv")
    expected = F.scaled_dot_product_attention(q, k, v, scale=0.5)
    with use_attention_backend(backend):
        for packing in (None, packing_for([5, 5])):  # a uniform pack in to_layout's [B, H, n, d]
            out = segment_attention(q, k, v, packing, scale=0.5)
            assert torch.allclose(out, expected, atol=1e-6)


def test_block_mask_is_block_diagonal_and_cached_on_the_packing():
    packing = packing_for([2, 1, 3])
    mask = block_mask(packing, torch.device("cpu"))
    expected = torch.block_diag(*(torch.ones(n, n) for n in [2, 1, 3])).bool()
    assert torch.equal(mask, expected)
    assert block_mask(packing, torch.device("cpu")) is mask
    q = torch.randn(1, 1, 6, 4)
    attention.masked_attention(q, q, q, packing, 1.0)
    assert block_mask(packing, torch.device("cpu")) is mask  # the attention call reused it
    assert block_mask(packing_for([2, 1, 3]), torch.device("cpu")) is not mask  # per packing


def test_cache_field_stays_out_of_repr():
    packing = packing_for([2, 3])
    block_mask(packing, torch.device("cpu"))
    assert packing.attention_cache and "attention_cache" not in repr(packing)


def test_setting_is_process_wide_and_the_context_restores_it():
    assert attention_backend() == "auto"
    with use_attention_backend("masked"):
        assert attention_backend() == "masked"
        with use_attention_backend("split"):
            assert attention_backend() == "split"
        assert attention_backend() == "masked"
    assert attention_backend() == "auto"
    with pytest.raises(KeyError), use_attention_backend("split"):
        raise KeyError  # an error inside the block still restores the setting
    assert attention_backend() == "auto"


@pytest.mark.parametrize("name", ["flash", "", "Masked"])
def test_invalid_backend_names_list_the_valid_ones(name):
    with pytest.raises(ValueError, match="auto, split, masked, varlen"):
        set_attention_backend(name)
    with pytest.raises(ValueError, match="valid"), use_attention_backend(name):
        pass
    assert attention_backend() == "auto"


@pytest.mark.parametrize(
    ("dtype", "why"), [(torch.float32, "CUDA tensor"), (torch.bfloat16, "CUDA tensor")]
)
def test_forcing_varlen_on_cpu_says_why(dtype, why):
    q = torch.randn(1, 2, 6, 8).to(dtype)
    assert varlen_available(q) is None
    for packing in (packing_for([2, 4]), packing_for([3, 3]), None):
        with use_attention_backend("varlen"), pytest.raises(RuntimeError, match=why):
            segment_attention(q, q, q, packing, 1.0)


def test_varlen_glue_lays_out_tokens_and_cumulative_lengths(monkeypatch):
    # The kernel needs CUDA; a stand-in with its contract checks the layout and cu_seq glue.
    lengths = [3, 17, 1, 9]
    seen = {}

    def fake_varlen(q, k, v, cu_q, cu_k, max_q, max_k, *, scale):
        seen.update(cu=cu_q.tolist(), dtype=cu_q.dtype, max=(max_q, max_k), shape=q.shape)
        bounds = cu_q.tolist()
        outs = [
            F.scaled_dot_product_attention(
                *(x[a:b].transpose(0, 1) for x in (q, k, v)), scale=scale
            ).transpose(0, 1)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
        return torch.cat(outs)

    monkeypatch.setattr(attention, "_varlen_kernel", lambda q: ("torch", None))
    monkeypatch.setattr(attention, "_torch_varlen", lambda: fake_varlen)
    q, k, v = (torch.randn(1, 3, sum(lengths), 8) for _ in "qkv")
    with use_attention_backend("auto"):
        out = segment_attention(q, k, v, packing_for(lengths), scale=0.4)
    assert seen == {
        "cu": [0, 3, 20, 21, 30],
        "dtype": torch.int32,
        "max": (17, 17),
        "shape": (30, 3, 8),
    }
    assert (out - per_stream_sdpa(q, k, v, lengths, 0.4)).abs().max().item() <= 1e-5


def test_varlen_available_never_raises():
    assert varlen_available(torch.randn(1, 2, 3, 8)) is None
    assert varlen_available(torch.randn(1, 2, 3, 8, dtype=torch.float16)) is None
    assert varlen_available("not a tensor") is None


def test_auto_picks_masked_only_for_small_packs_of_short_segments():
    q = torch.randn(1, 1, 1, 8)
    tiny = packing_for([3, 2, 4, 1, 2, 3])  # T = 15, mean 2.5
    few_long = packing_for([20, 19])  # T = 39, mean 19.5
    big = packing_for([30, 34, 40, 28])  # T = 132
    assert masked_pays(tiny) and not masked_pays(few_long) and not masked_pays(big)
    assert masked_pays(big, "cuda") and not masked_pays(packing_for([600, 500]), "cuda")
    assert resolve_backend(q, tiny) == "masked"
    assert resolve_backend(q, big) == "split"
    with use_attention_backend("split"):
        assert resolve_backend(q, tiny) == "split"


def three_stream_clip():
    """Stream 0 static, stream 1 one moving square, stream 2 two: ragged active counts."""
    clip = moving_square_clip(frames=4, batch=3, seed=5)
    clip[:, 0] = clip[0, 0]
    for t in range(clip.shape[0]):
        clip[t, 2, :, 20:28, 4 * t : 4 * t + 8] = -1.0
    return clip


@pytest.mark.parametrize("threshold", [0.01, 0.1])
def test_arch_c_embeddings_are_the_same_with_masked_and_split(tower, threshold, monkeypatch):
    masked_calls = []
    masked = attention._RAGGED["masked"]
    monkeypatch.setitem(
        attention._RAGGED, "masked", lambda *a: masked_calls.append(1) or masked(*a)
    )
    clip = three_stream_clip()
    model = make_arch("C", tower, threshold=threshold, ema_decay=0.3, floor_tokens=2)
    runs = {}
    for backend in ("masked", "split"):
        state = model.new_state(3)
        with use_attention_backend(backend), torch.inference_mode():
            runs[backend] = [model(frame, state) for frame in clip]
    assert masked_calls, "the masked backend never ran: no ragged pack reached the blocks"
    for masked_out, split_out in zip(runs["masked"], runs["split"], strict=True):
        assert torch.equal(masked_out.keep_mask, split_out.keep_mask)
        assert (masked_out.embedding - split_out.embedding).abs().max().item() <= 1e-5
