"""Training-free DynamicViT-style token dropping: fewer tokens at a few depths, per frame.

At each drop layer ``l`` (before block ``l`` runs) the patch tokens still present are scored
by how much the model attends to them and only the most important ones go on; the class
tokens always do. No learned predictor and no temporal state: every frame starts from all
``N`` patches. The keep rates are cumulative: after drop point ``j`` ``round(rate_j * N)``
patches remain (at least one).

Importance, computed without an eager-attention model (the NeuroFlow paper's DynamicViT
baseline forced eager attention everywhere to read attention maps; this does not):

* SigLIP (no class token): the MAP head's probe attention on the current hidden states,
  ``softmax_i(post_layernorm(x_i) . u_h)`` averaged over the heads ``h`` (``u`` from
  :func:`~neuroflow.models.map_head.probe_keys`).
* Class-token towers: the class token's attention row in the next block, computed for that
  one query with the block's ``ln1`` / ``q_proj`` / ``k_proj`` folded into a per-stream key
  ``u_h = W_k,h^T q_h`` (the key bias cancels in the softmax): ``O(n D)`` per head.

Registered as ``"token_drop"``: ``make_arch("token_drop", tower, keep_fraction=0.6)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from neuroflow.archs.base import Architecture, ArchOutput, KeepUnreachable, StreamState
from neuroflow.archs.registry import register_method
from neuroflow.models.map_head import foldable_map_head, probe_keys
from neuroflow.models.tower import Embedded, VisionTower

DEFAULT_RATES = (0.9, 0.7, 0.5)


def default_drop_layers(layers: int) -> tuple[int, ...]:
    """The quarter points ``round(L/4), round(L/2), round(3L/4)`` (3/6/9 of 12 blocks), kept
    inside ``[1, L - 1]`` so that shallow towers still run (2 blocks: 1, 1, 1)."""
    return tuple(min(layers - 1, max(1, round(layers * q))) for q in (0.25, 0.5, 0.75))


def check_schedule(drop_layers: Sequence[int], rates: Sequence[float], layers: int) -> None:
    """Raise ``ValueError`` naming the problem with a drop schedule.

    Drop layers must be non-decreasing integers in ``[0, L)`` (a repeated layer drops twice
    at the same depth); rates one per drop layer, non-increasing, in (0, 1].
    """
    if len(drop_layers) != len(rates) or not drop_layers:
        raise ValueError(
            f"need one keep rate per drop layer, got drop_layers={list(drop_layers)} and "
            f"keep_rates={list(rates)}"
        )
    if any(not 0 <= d < layers for d in drop_layers) or list(drop_layers) != sorted(drop_layers):
        raise ValueError(
            f"drop_layers must be non-decreasing block indices in [0, {layers}), "
            f"got {list(drop_layers)}"
        )
    rates = list(rates)
    if any(not 0.0 < r <= 1.0 for r in rates) or rates != sorted(rates, reverse=True):
        raise ValueError(f"keep_rates must be non-increasing in (0, 1], got {rates}")


def patch_counts(rates: Sequence[float], num_patches: int) -> list[int]:
    """Patches present after each drop point: ``round(rate * N)``, at least one."""
    return [max(1, round(r * num_patches)) for r in rates]


def block_tokens(drop_layers: Sequence[int], counts: Sequence[int], n: int, layers: int):
    """Patch tokens each of the ``L`` blocks processes (``n`` before the first drop)."""
    out = [n] * layers
    for j, layer in enumerate(drop_layers):
        out[layer:] = [counts[j]] * (layers - layer)
    return out


def schedule_keep(drop_layers: Sequence[int], rates: Sequence[float], layers: int) -> float:
    """Token-layer-equivalent keep of a schedule with unrounded counts ``rate * N``."""
    return sum(block_tokens(drop_layers, rates, 1.0, layers)) / layers


def geometric_rates(
    keep_fraction: float, drop_layers: Sequence[int], layers: int
) -> tuple[float, ...]:
    """Rates ``rho, rho^2, ...`` (one per drop layer) whose schedule keeps ``keep_fraction``.

    Raises:
        KeepUnreachable: The leading dense blocks alone exceed ``keep_fraction`` (message
            names the lowest reachable keep).
    """
    if keep_fraction >= 1.0:
        return (1.0,) * len(drop_layers)
    lowest = drop_layers[0] / layers  # rho -> 0: only blocks before the first drop remain
    if keep_fraction <= lowest:
        raise KeepUnreachable(
            f"token_drop cannot reach keep fraction {keep_fraction:g} on this tower: its first "
            f"{drop_layers[0]} of {layers} blocks run on every token, so the keep fraction "
            f"stays above {lowest:.3f} (lowest reachable); drop earlier (drop_layers)"
        )
    lo, hi = 0.0, 1.0
    for _ in range(60):  # the keep grows monotonically with rho
        rho = (lo + hi) / 2
        rates = [rho ** (j + 1) for j in range(len(drop_layers))]
        if schedule_keep(drop_layers, rates, layers) < keep_fraction:
            lo = rho
        else:
            hi = rho
    return tuple(hi ** (j + 1) for j in range(len(drop_layers)))


def _block_tokens(bd: Any, k: float, drop_layers, keep_rates) -> list[int]:
    """Patch tokens per block in the cost model at ``bd``'s resolution (``keep_rates`` None:
    the geometric schedule of keep ``k``, as :meth:`TokenDrop.keep_settings` builds)."""
    layers = list(drop_layers) if drop_layers is not None else default_drop_layers(bd.layers)
    if keep_rates is None:
        keep_rates = geometric_rates(k, layers, bd.layers)
    check_schedule(layers, keep_rates, bd.layers)
    counts = patch_counts(keep_rates, bd.num_patches)
    return block_tokens(layers, counts, bd.num_patches, bd.layers)


def _scoring_flops(bd: Any, drop_layers, keep_rates, k: float) -> float:
    """FLOPs of the importance scores at every drop point, one stream: the probe's (or the
    class query's, folded into one key per head) logits over the tokens present, plus the
    class query and its fold for class-token towers."""
    if bd.num_heads is None:
        raise ValueError("token_drop's cost model needs the breakdown's num_heads")
    layers = list(drop_layers) if drop_layers is not None else default_drop_layers(bd.layers)
    rates = keep_rates if keep_rates is not None else geometric_rates(k, layers, bd.layers)
    before = [bd.num_patches, *patch_counts(rates, bd.num_patches)[:-1]]
    d = bd.hidden_size
    per_drop = 4 * d * d if bd.num_prefix else 0  # q of the class token, folded with W_k
    return sum(per_drop + 2 * (bd.num_prefix + n) * d * bd.num_heads for n in before)


@register_method
class TokenDrop(Architecture):
    """Drop the least-attended patch tokens at a few depths (module doc).

    Args:
        tower: The vision tower (SigLIP with its MAP head, or a class-token tower).
        drop_layers: Blocks before which tokens are dropped, non-decreasing in ``[0, L)``;
            None: the quarter points (3, 6, 9 of 12 blocks).
        keep_rates: Share of the ``N`` patches still present after each drop point,
            non-increasing, in (0, 1].
        keep_fraction: When given, replaces ``keep_rates`` by ``rho, rho^2, rho^3, ...``
            solved so the token-layer-equivalent keep (see :meth:`keep_fraction_for`) is
            ``keep_fraction``.

    Raises:
        ValueError: A bad schedule, an unreachable ``keep_fraction`` (the lowest reachable
            one is named), or a SigLIP tower without a foldable MAP head.
    """

    name = "token_drop"
    uses_gate = False
    pools = "active"

    def __init__(
        self,
        tower: VisionTower,
        drop_layers: Sequence[int] | None = None,
        keep_rates: Sequence[float] = DEFAULT_RATES,
        keep_fraction: float | None = None,
    ) -> None:
        super().__init__(tower)
        layers = len(tower.blocks)
        drops = default_drop_layers(layers) if drop_layers is None else tuple(drop_layers)
        self.drop_layers = tuple(int(d) for d in drops)
        if keep_fraction is not None:
            if not 0.0 < keep_fraction <= 1.0:
                raise ValueError(f"keep_fraction must lie in (0, 1], got {keep_fraction}")
            keep_rates = geometric_rates(float(keep_fraction), self.drop_layers, layers)
        self.keep_rates = tuple(float(r) for r in keep_rates)
        check_schedule(self.drop_layers, self.keep_rates, layers)
        if not tower.num_prefix_tokens and foldable_map_head(tower) is None:
            raise ValueError(
                "token_drop scores tokens with SigLIP's MAP probe or the class token's "
                f"attention; this {tower.family} tower has neither"
            )

    @classmethod
    def keep_settings(cls, keep_fraction: float) -> dict[str, Any]:
        """``{"keep_fraction": k}``: the geometric schedule is solved when the tower is known."""
        super().keep_settings(keep_fraction)  # range check
        return {"keep_fraction": float(keep_fraction)}

    # --- cost model ---------------------------------------------------------------------
    @classmethod
    def encoder_flops(cls, bd: Any, n: float, **settings: Any) -> float:
        """Every block on its own token count (settings ``drop_layers`` / ``keep_rates``;
        without ``keep_rates``: the geometric schedule of keep ``(n - P) / N``)."""
        k = (n - bd.num_prefix) / bd.num_patches
        drops, rates = settings.get("drop_layers"), settings.get("keep_rates")
        tokens = _block_tokens(bd, k, drops, rates)
        blocks = sum(bd.block_cost(bd.num_prefix + t, 1) for t in tokens)
        return blocks + _scoring_flops(bd, drops, rates, k)

    @classmethod
    def frame_flops(cls, bd: Any, k: float, *, hf_head: bool = False, **settings: Any) -> float:
        """Patch embedding, every block on its token count, the head on the survivors.

        With this instance's :meth:`cost_settings` the counts follow its schedule and ``k``
        is only range-checked; without ``keep_rates`` the geometric schedule of ``k`` is
        costed.
        """
        if not 0.0 <= k <= 1.0:
            raise ValueError(f"keep fraction must lie in [0, 1], got {k}")
        tokens = _block_tokens(bd, k, settings.get("drop_layers"), settings.get("keep_rates"))
        encoder = cls.encoder_flops(bd, bd.num_prefix + k * bd.num_patches, **settings)
        head = bd.hf_head if hf_head else bd.head
        return bd.patch_embed + encoder + head(bd.num_prefix + tokens[-1])

    def cost_settings(self) -> dict[str, Any]:
        return {"drop_layers": self.drop_layers, "keep_rates": self.keep_rates}

    # --- the method ---------------------------------------------------------------------
    def keep_fraction_for(self, num_patches: int) -> float:
        """Mean over the ``L`` blocks of the patch tokens each processes, divided by ``N``."""
        layers = len(self.tower.blocks)
        counts = patch_counts(self.keep_rates, num_patches)
        return sum(block_tokens(self.drop_layers, counts, num_patches, layers)) / (
            layers * num_patches
        )

    @torch.no_grad()
    def importance(self, x: Tensor, layer: int) -> Tensor:
        """``[B, n]`` importance of the patch tokens of ``x`` ``[B, P + n, D]`` before block
        ``layer`` (module doc); each row sums to at most 1."""
        p = self.tower.num_prefix_tokens
        if not p:
            head = foldable_map_head(self.tower)
            x = self.tower.hf.post_layernorm(x)
            # The packed head kernels keep the folded probe keys: not refolded every frame.
            kernels = self.tower.head_kernels(head, x)
            logits = x @ (probe_keys(head) if kernels is None else kernels.u)  # [B, n, H]
            return logits.softmax(dim=1).mean(dim=-1)
        block = self.tower.blocks[layer]
        h = block.ln1(x)
        q = block.q_proj(h[:, 0]).view(x.shape[0], block.num_heads, block.head_dim)
        w_k = block.k_proj.weight.view(block.num_heads, block.head_dim, -1)
        u = torch.einsum("bhc,hcd->bdh", q, w_k) * block.scale  # class query folded into keys
        return torch.bmm(h, u).softmax(dim=1).mean(dim=-1)[:, p:]

    def drop(self, x: Tensor, importance: Tensor, count: int) -> tuple[Tensor, Tensor]:
        """Keep the class tokens and the ``count`` most important patches of ``x``.

        Returns:
            The shorter ``[B, P + count, D]`` tokens (patches in their original order) and
            ``[B, count]`` the kept positions among the patches of ``x``.
        """
        p = self.tower.num_prefix_tokens
        idx = importance.topk(count, dim=1).indices.sort(dim=1).values
        patches = x[:, p:].gather(1, idx[..., None].expand(-1, -1, x.shape[-1]))
        return torch.cat([x[:, :p], patches], dim=1), idx

    def encode_dropping(self, tokens: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Run the encoder, dropping at every drop layer.

        Returns:
            The final-layer tokens ``[B, P + n_last, D]`` and, per drop layer, the original
            patch indices ``[B, count]`` still present after it.
        """
        p = self.tower.num_prefix_tokens
        n = tokens.shape[1] - p
        kept = torch.arange(n, device=tokens.device).expand(tokens.shape[0], n)
        survivors, x, start = [], tokens, 0
        for layer, count in zip(self.drop_layers, patch_counts(self.keep_rates, n), strict=True):
            x, start = self.tower.encode(x, start, layer), layer
            if count < x.shape[1] - p:  # nothing to drop: skip the scoring (exact when kept)
                x, idx = self.drop(x, self.importance(x, layer), count)
                kept = kept.gather(1, idx)
            survivors.append(kept)
        return self.tower.encode(x, start), survivors

    def step(self, emb: Embedded, state: StreamState) -> ArchOutput:
        hidden, _ = self.encode_dropping(emb.tokens)
        embedding = self.tower.fast_pool(hidden)
        b, n = emb.patch_features.shape[:2]
        device = embedding.device
        keep = torch.ones(b, n, dtype=torch.bool, device=device)  # every patch enters block 0
        fraction = torch.full((b,), self.keep_fraction_for(n), device=device)
        return ArchOutput(embedding, keep, torch.zeros(b, n, device=device), fraction, emb.stretch)
