"""Probes of the pooling head: MAP attention entropy (T10), MAP attention against the gate's
surprise (§5.4 text), and the pooled embedding's magnitude (§5.14, §9.3).

The MAP head's probe attends over whatever tokens it is given. Its attention over tokens
``x`` (final-layer outputs) is, per head ``h``, ``softmax_i(post_layernorm(x_i) . u_h)``
with ``u_h`` the folded probe key (:func:`~neuroflow.models.map_head.probe_keys`); the
tests check it against the head's own ``nn.MultiheadAttention`` weights. The three
conditions give the head different tokens: dense (all N, fresh), sparse without cache
(the kept tokens only) and Arch C (all N cache slots). The magnitude probe needs only
the pooled outputs, so it also runs on class-token heads (CLIP).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch import Tensor, nn

from neuroflow.analysis.trace import CONDITIONS, FrameTrace, Probe
from neuroflow.eval.zeroshot import ZeroShotClassifier
from neuroflow.models.map_head import foldable_map_head, probe_keys
from neuroflow.models.tower import VisionTower

Projection = Callable[[Tensor], Tensor]  # pooled tower output -> joint-space embedding


def no_map_head(tower: VisionTower) -> str | None:
    """Why ``tower`` has no MAP head to probe (None when it has one)."""
    if foldable_map_head(tower) is not None:
        return None
    return (
        f"this {tower.family} model has no MAP head (multi-head attention pooling, as in "
        "SigLIP): it pools a class token, so the MAP probes (map_entropy, "
        "map_surprise_spearman) do not apply"
    )


def require_map_head(tower: VisionTower) -> nn.Module:
    """The tower's foldable MAP head; ``ValueError`` when it has none."""
    reason = no_map_head(tower)
    if reason is not None:
        raise ValueError(reason)
    return foldable_map_head(tower)  # type: ignore[return-value]


@torch.inference_mode()
def map_attention(tower: VisionTower, hidden: Tensor, mask: Tensor | None = None) -> Tensor:
    """``[B, n, H]`` MAP attention of every head over final-layer tokens ``hidden``.

    Args:
        tower: A tower with SigLIP's MAP head.
        hidden: ``[B, n, D]`` final-layer outputs (before the post-LayerNorm).
        mask: ``[B, n]`` bool, the tokens the head sees (None: all); the others get 0.
    """
    keys = probe_keys(require_map_head(tower))
    logits = (tower.hf.post_layernorm(hidden) @ keys).float()
    if mask is not None:
        logits = logits.masked_fill(~mask[..., None], -math.inf)
    return torch.softmax(logits, dim=1)


def attention_entropy(p: Tensor) -> Tensor:
    """``[B, H]`` Shannon entropy in nats of attention ``p`` ``[B, n, H]`` (0 log 0 = 0)."""
    return -torch.special.xlogy(p, p).sum(dim=1)


class MapEntropy(Probe):
    """T10: does the MAP head's attention collapse when it sees fewer tokens?

    For every condition and frame t >= 1 (frame 0 is dense in all three) the entropy of
    each head's attention, averaged over heads. Columns: ``condition``, ``entropy`` (nats,
    mean over frames), ``entropy_norm`` (entropy / ln N with N all patch tokens, the
    paper's normalisation, also for the sparse condition), ``entropy_norm_active`` (mean
    over frames of entropy / ln of the tokens the head saw; frames where it saw one token
    are left out), ``tokens_seen`` (mean); extra ``frames`` (clip frames averaged).
    """

    name = "map_entropy"
    columns = ("condition", "entropy", "entropy_norm", "entropy_norm_active", "tokens_seen")

    def __init__(self, tower: VisionTower) -> None:
        super().__init__(tower)
        require_map_head(tower)
        self.entropy: dict[str, list[Tensor]] = {c: [] for c in CONDITIONS}
        self.seen: dict[str, list[Tensor]] = {c: [] for c in CONDITIONS}
        self.patches: int | None = None

    @classmethod
    def unavailable(cls, tower: VisionTower, **context: Any) -> str | None:
        return no_map_head(tower)

    def update(self, trace: FrameTrace) -> None:
        if trace.t < 1:
            return
        self.patches = trace.keep.shape[1]
        every = torch.ones_like(trace.sparse_mask)
        seen = {
            "dense": (trace.dense_final, every),
            "sparse_no_cache": (trace.sparse_final, trace.sparse_mask),
            "arch_c": (trace.cache, every),
        }
        for condition, (hidden, mask) in seen.items():
            p = map_attention(self.tower, hidden, mask)
            self.entropy[condition].append(attention_entropy(p).mean(dim=1).cpu())
            self.seen[condition].append(mask.sum(dim=1).cpu())

    def table(self) -> pd.DataFrame:
        rows = []
        for condition in CONDITIONS:
            if not self.entropy[condition]:
                entropy, seen = torch.zeros(0), torch.zeros(0)
            else:
                entropy = torch.cat(self.entropy[condition]).double()
                seen = torch.cat(self.seen[condition]).double()
            several = seen > 1  # ln 1 = 0: one token has no entropy to normalise
            mean = float(entropy.mean()) if entropy.numel() else math.nan
            active = entropy[several] / seen[several].log()
            rows.append(
                {
                    "condition": condition,
                    "entropy": mean,
                    "entropy_norm": mean / math.log(self.patches) if self.patches else math.nan,
                    "entropy_norm_active": float(active.mean()) if active.numel() else math.nan,
                    "tokens_seen": float(seen.mean()) if seen.numel() else math.nan,
                    "frames": int(entropy.numel()),
                }
            )
        return pd.DataFrame(rows)


def frame_spearman(attention: Tensor, surprise: Tensor) -> np.ndarray:
    """``[B]`` Spearman rho of each row of ``attention`` against ``surprise`` (``[B, N]``).

    NaN where either row is constant (e.g. a static frame: every surprise 0).
    """
    a, s = attention.double().cpu().numpy(), surprise.double().cpu().numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        return np.array([stats.spearmanr(x, y).statistic for x, y in zip(a, s, strict=True)])


def summarise_rhos(per_clip: dict[int, list[float]], seed: int = 0) -> dict[str, float]:
    """Mean per-frame rho, its 95% bootstrap interval over clips, frames, share positive.

    Clips, not frames, are resampled (frames of a clip are correlated); the statistic of a
    resample is the mean over all of its frames (percentile interval, scipy).
    """
    rhos = [np.asarray(v, dtype=np.float64) for v in per_clip.values() if len(v)]
    if not rhos:
        nan = math.nan
        return {
            "rho": nan,
            "rho_ci_low": nan,
            "rho_ci_high": nan,
            "frames": 0,
            "positive_share": nan,
        }
    sums = np.array([r.sum() for r in rhos])
    counts = np.array([r.size for r in rhos], dtype=np.float64)
    every = np.concatenate(rhos)
    low = high = math.nan
    if len(rhos) > 1:
        found = stats.bootstrap(
            (sums, counts),
            lambda s, c, axis=-1: s.sum(axis=axis) / c.sum(axis=axis),
            paired=True,
            vectorized=True,
            method="percentile",
            n_resamples=9999,
            random_state=seed,
        )
        low, high = found.confidence_interval
    return {
        "rho": float(every.mean()),
        "rho_ci_low": float(low),
        "rho_ci_high": float(high),
        "frames": int(every.size),
        "positive_share": float((every > 0).mean()),
    }


class MapSurpriseSpearman(Probe):
    """§5.4 (text): do the MAP head's attention weights follow the gate's surprise?

    On every frame t >= 1 of every clip, Spearman's rho between the head-mean MAP
    attention over the N patch tokens and the gate's surprise of those patches, for the
    dense head (fresh tokens) and Arch C's (cache slots). Frames with a constant row
    (no rank order) are not counted. Columns: ``condition``, ``rho`` (mean over frames),
    ``rho_ci_low`` / ``rho_ci_high`` (95% bootstrap over clips), ``frames``,
    ``positive_share`` (share of frames with rho > 0).
    """

    name = "map_surprise_spearman"
    columns = ("condition", "rho", "rho_ci_low", "rho_ci_high", "frames", "positive_share")
    conditions = ("dense", "arch_c")

    def __init__(self, tower: VisionTower, seed: int = 0) -> None:
        super().__init__(tower)
        require_map_head(tower)
        self.seed = seed
        self.rhos: dict[str, dict[int, list[float]]] = {c: {} for c in self.conditions}

    @classmethod
    def unavailable(cls, tower: VisionTower, **context: Any) -> str | None:
        return no_map_head(tower)

    def update(self, trace: FrameTrace) -> None:
        if trace.t < 1:
            return
        p = trace.num_prefix
        for condition, hidden in (("dense", trace.dense_final), ("arch_c", trace.cache)):
            attention = map_attention(self.tower, hidden)[:, p:].mean(dim=-1)
            rho = frame_spearman(attention, trace.surprise)
            for clip, value in zip(trace.clips.tolist(), rho, strict=True):
                if np.isfinite(value):
                    self.rhos[condition].setdefault(clip, []).append(float(value))

    def table(self) -> pd.DataFrame:
        rows = [
            {"condition": c, **summarise_rhos(self.rhos[c], self.seed)} for c in self.conditions
        ]
        return pd.DataFrame(rows, columns=list(self.columns))


class PooledMagnitude(Probe):
    """§5.14 / §9.3: does sparse pooling shrink the embedding (L2 norm dilution)?

    For every condition and frame t >= 1: the L2 norm of the joint-space image embedding
    before normalisation (``pooled_norm``), the largest zero-shot logit (``max_logit``;
    the classifier normalises the embedding, so this one is free of the norm) and, with
    labels, the per-frame top-1 against the clip label (``top1_frame``, NaN without).
    Extra: ``max_dot`` (the largest dot product of the *unnormalised* embedding with a
    class embedding: the norm-sensitive "confidence") and ``frames`` (clip frames).

    Args:
        tower: The traced tower.
        project: Pooled tower output -> joint-space embedding
            (e.g. ``lambda p: project_image(hf_model, p)``).
        classifier: The zero-shot classifier.
        labels: ``[n]`` class index of every traced clip, or None.
    """

    name = "pooled_magnitude"
    columns = ("condition", "pooled_norm", "max_logit", "top1_frame")

    def __init__(
        self,
        tower: VisionTower,
        project: Projection,
        classifier: ZeroShotClassifier,
        labels: Sequence[int] | np.ndarray | None = None,
    ) -> None:
        super().__init__(tower)
        self.project, self.classifier = project, classifier
        self.labels = None if labels is None else torch.as_tensor(np.asarray(labels))
        self.values: dict[str, dict[str, list[Tensor]]] = {
            c: {"norm": [], "max_logit": [], "max_dot": [], "hit": []} for c in CONDITIONS
        }

    @classmethod
    def unavailable(cls, tower: VisionTower, **context: Any) -> str | None:
        missing = [k for k in ("project", "classifier") if context.get(k) is None]
        if not missing:
            return None
        return (
            f"pooled_magnitude needs {' and '.join(missing)}: pass project=<pooled output -> "
            "joint-space embedding, e.g. lambda p: project_image(hf_model, p)> and "
            "classifier=<a ZeroShotClassifier from build_classifier>"
        )

    @classmethod
    def from_context(cls, tower: VisionTower, **context: Any) -> Probe:
        reason = cls.unavailable(tower, **context)
        if reason is not None:
            raise ValueError(reason)
        return cls(tower, context["project"], context["classifier"], context.get("labels"))

    def update(self, trace: FrameTrace) -> None:
        if trace.t < 1:
            return
        weights = self.classifier.weights
        for condition, values in self.values.items():
            embeds = self.project(trace.pooled[condition]).float()
            logits = self.classifier.logits(embeds)
            values["norm"].append(embeds.norm(dim=-1).cpu())
            values["max_logit"].append(logits.max(dim=-1).values.cpu())
            values["max_dot"].append((embeds @ weights.to(embeds).T).max(dim=-1).values.cpu())
            if self.labels is not None:
                target = self.labels[trace.clips.cpu()].to(logits.device)
                values["hit"].append((logits.argmax(dim=-1) == target).float().cpu())

    def table(self) -> pd.DataFrame:
        rows = []
        for condition, values in self.values.items():
            mean = {k: float(torch.cat(v).mean()) if v else math.nan for k, v in values.items()}
            rows.append(
                {
                    "condition": condition,
                    "pooled_norm": mean["norm"],
                    "max_logit": mean["max_logit"],
                    "top1_frame": mean["hit"],
                    "max_dot": mean["max_dot"],
                    "frames": sum(len(v) for v in values["norm"]),
                }
            )
        return pd.DataFrame(rows)
