"""The analytic ceiling S(k) reproduces the reference table and behaves at the extremes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from neuroflow.bench.ceiling import ceiling, method_flops
from neuroflow.bench.flops import FlopBreakdown


def vit_b16(side: int) -> FlopBreakdown:
    """Closed-form breakdown of SigLIP-B/16 (d=768, MLP 3072, 12 layers, MAP head)."""
    d, m, layers = 768, 3072, 12
    n = (side // 16) ** 2
    return FlopBreakdown(
        n,
        0,
        layers,
        d,
        2 * n * 768 * d,
        layers * 8 * d * d,
        layers * 4 * d * m,
        layers * 4 * d,
        4 * d * d + 4 * d * m,
        4 * d * d,
    )


@pytest.mark.parametrize(
    ("side", "kind", "k", "expected"),
    [
        (224, "B", 0.16, 6.2),
        (224, "C", 0.16, 5.8),
        (224, "B", 0.5, 2.0),
        (224, "B", 0.05, 18.3),
        (448, "B", 0.16, 6.9),
        (896, "B", 0.16, 9.1),
        (896, "C", 0.16, 8.6),
        (1792, "B", 0.16, 15.7),
    ],
)
def test_reference_table(side, kind, k, expected):
    # The published ceiling table of SigLIP-B/16, rounded to 0.1x there.
    assert ceiling(vit_b16(side), k, kind) == pytest.approx(expected, abs=0.06)


def with_folded_head(bd: FlopBreakdown) -> FlopBreakdown:
    """``bd`` with the architectures' folded MAP head (4 D H per token); the HF head keeps
    the K/V projections of every pooled token."""
    return replace(
        bd,
        head_per_token=4 * 768 * 12,
        hf_head_fixed=bd.head_fixed,
        hf_head_per_token=bd.head_per_token,
    )


def test_folded_head_makes_c_equal_b():
    folded = with_folded_head(vit_b16(224))
    c, b = ceiling(folded, 0.16, "C"), ceiling(folded, 0.16, "B")
    assert c == pytest.approx(b, rel=0.01) and c <= b  # C with a cached head costs what B does
    plain = ceiling(folded, 0.16, "C", hf_head=True)
    assert plain < c  # the plain loop's HF head recomputes K/V over every cached token
    assert ceiling(folded, 1.0, "dense", hf_head=True) < 1.0  # hf_dense does more work


def test_every_method_is_dense_at_full_keep():
    bd = vit_b16(448)
    for kind in ("dense", "A", "B", "C", "random_C"):
        assert ceiling(bd, 1.0, kind) == pytest.approx(1.0)
    assert ceiling(bd, 1.0, "D", dense_layers=6) == pytest.approx(1.0)


def test_partial_methods_are_bounded_by_their_dense_part():
    bd = vit_b16(224)
    a, d6, c = ceiling(bd, 0.1, "A"), ceiling(bd, 0.1, "D", dense_layers=6), ceiling(bd, 0.1, "C")
    n, kept = bd.num_patches, 0.1 * bd.num_patches
    # Written as what each method skips from the dense frame (the cost model adds what runs).
    # Arch A skips only the MLP of the dropped tokens, in every block:
    assert a == pytest.approx(bd.dense / (bd.dense - bd.mlp * (n - kept)), rel=1e-12)
    # D with 6 of 12 blocks dense skips half the blocks' work on the dropped tokens:
    skipped = 0.5 * ((bd.attn_linear + bd.mlp) * (n - kept) + bd.attention * (n * n - kept**2))
    assert d6 == pytest.approx(bd.dense / (bd.dense - skipped), rel=1e-12)
    # The equalities above hold at k = 0.1 only; how the ceilings move with k and with the
    # dense depth is checked at other inputs. A approaches the MLP-share bound as k -> 0:
    a_limit = ceiling(bd, 0.0, "A")
    assert a_limit == pytest.approx(bd.dense / (bd.dense - bd.mlp * n), rel=1e-12)
    assert ceiling(bd, 0.2, "A") < a < a_limit
    # More dense blocks, less skipped work: D's ceiling falls with dense_layers.
    d3, d9 = ceiling(bd, 0.1, "D", dense_layers=3), ceiling(bd, 0.1, "D", dense_layers=9)
    assert c > d3 > d6 > d9 > 1.0
    assert c > d6 > 1.0
    assert ceiling(bd, 0.1, "D", dense_layers=0) == pytest.approx(c)


def test_bad_arguments():
    bd = vit_b16(224)
    with pytest.raises(ValueError, match="keep fraction"):
        method_flops(bd, 1.5, "B")
    with pytest.raises(ValueError, match="unknown method"):
        method_flops(bd, 0.5, "Z")
    with pytest.raises(ValueError, match="dense_layers does not apply"):
        method_flops(bd, 0.5, "B", dense_layers=2)
