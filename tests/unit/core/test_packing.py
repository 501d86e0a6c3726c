import torch
import torch.nn.functional as F

from neuroflow.core.attention import segment_attention
from neuroflow.core.cache import CorticalCache
from neuroflow.core.packing import make_packing, pack, to_layout, unpack_into


def test_pack_unpack_round_trip_ragged():
    tokens = torch.randn(3, 5, 4)
    keep = torch.tensor([[1, 0, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 0, 1, 0]], dtype=torch.bool)
    packing = make_packing(keep)
    assert packing.lengths == [2, 5, 1] and not packing.uniform
    packed = pack(tokens, packing)
    assert torch.equal(packed[:2], tokens[0, [0, 2]])
    buffer = torch.zeros_like(tokens)
    unpack_into(buffer, packed, packing)
    assert torch.equal(buffer[keep], tokens[keep]) and not buffer[~keep].any()


def test_uniform_packing_is_plain_batch():
    keep = torch.zeros(2, 6, dtype=torch.bool)
    keep[:, [1, 4]] = True
    packing = make_packing(keep)
    assert packing.uniform
    assert to_layout(torch.randn(4, 3), packing).shape == (2, 2, 3)


def test_segment_attention_matches_per_stream_attention():
    lengths = [3, 1, 4]
    q, k, v = (torch.randn(1, 2, sum(lengths), 5) for _ in range(3))
    keep = torch.zeros(3, 4, dtype=torch.bool)
    for b, n in enumerate(lengths):
        keep[b, :n] = True
    out = segment_attention(q, k, v, make_packing(keep), scale=0.3)
    start = 0
    for n in lengths:
        sl = slice(start, start + n)
        ref = F.scaled_dot_product_attention(q[:, :, sl], k[:, :, sl], v[:, :, sl], scale=0.3)
        assert torch.allclose(out[:, :, sl], ref, atol=1e-6)
        start += n


def test_cache_hard_and_blend_writes():
    buffer = torch.ones(2, 3, 2)
    keep = torch.tensor([[True, False, False], [False, True, False]])
    packing = make_packing(keep)
    new = torch.full((2, 2), 3.0)
    CorticalCache("hard").write(buffer.clone(), new, packing, torch.tensor([False, False]))
    blended = CorticalCache("blend", alpha=0.5).write(
        buffer.clone(), new, packing, torch.tensor([False, True])
    )
    assert torch.allclose(blended[0, 0], torch.full((2,), 2.0))  # (1-a)*1 + a*3
    assert torch.allclose(blended[1, 1], torch.full((2,), 3.0))  # fresh stream: replaced
    assert torch.equal(blended[0, 1:], buffer[0, 1:])
