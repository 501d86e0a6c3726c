"""Representation probes of the paper (T1, T7, T10, text-only numbers), run in one trace.

Each probe folds every :class:`~neuroflow.analysis.trace.FrameTrace` of one
:func:`~neuroflow.analysis.trace.trace_clips` pass into running statistics and then gives
one table (the columns of the analysis contract first, extra columns after):

* ``representation_gap`` (T1): per-token cos(layer k, final layer) of the dense tower.
* ``final_layer_stability`` ("Cortical Ghost Stability", §5.1): dense final-layer cos of
  each patch between frames t and t - 1, split by the gate's decision at t.
* ``contextual_incompatibility`` (T7): active shift against cache staleness.
* ``map_entropy`` (T10), ``map_surprise_spearman`` (§5.4 text) and ``pooled_magnitude``
  (§5.14, §9.3), the probes of the pooling head: :mod:`neuroflow.analysis.map_probes`.

Cosines are computed as ``1 - |a/|a| - b/|b||^2 / 2`` (the gate's surprise form), exact
for identical vectors: a token compared with itself gives cos 1 and gap 0, not 1 - 1e-7.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from neuroflow.analysis.map_probes import (
    MapEntropy,
    MapSurpriseSpearman,
    PooledMagnitude,
    Projection,
)
from neuroflow.analysis.trace import (
    FrameTrace,
    Probe,
    TraceSettings,
    check_clips,
    trace_clips,
)
from neuroflow.core.gate import cosine_surprise
from neuroflow.eval.zeroshot import ZeroShotClassifier
from neuroflow.models.tower import VisionTower


def cosine(a: Tensor, b: Tensor) -> Tensor:
    """Cosine over the last dim in float32, exactly 1 for identical vectors."""
    return 1.0 - cosine_surprise(a.float(), b.float())


class RunningMoments:
    """Count, mean and sample std of a stream of values, merged batch by batch.

    The batches are combined with Chan et al.'s pairwise update, so a trace of millions of
    tokens keeps three numbers, not every value.
    """

    def __init__(self) -> None:
        self.count, self.mean, self.m2 = 0, 0.0, 0.0

    def add(self, values: Tensor) -> None:
        """Fold in every element of ``values``."""
        x = values.detach().reshape(-1).double()
        n = x.numel()
        if n == 0:
            return
        mean = float(x.mean())
        m2 = float((x - mean).square().sum())
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.count * n / total
        self.count = total

    @property
    def value(self) -> float:
        """The mean, NaN before any value."""
        return self.mean if self.count else math.nan

    @property
    def std(self) -> float:
        """Sample standard deviation (ddof = 1), NaN below two values."""
        return math.sqrt(self.m2 / (self.count - 1)) if self.count > 1 else math.nan


class RepresentationGap(Probe):
    """T1: how far each dense layer's tokens are from the final layer's, token by token.

    For every layer ``k = 0 .. L`` (0: encoder input) the per-token cos(h_k, h_L) of the
    patches (class tokens excluded), over every token of every frame. Columns: ``layer``,
    ``cos_to_final`` (mean), ``cos_std`` (std over tokens and frames), ``gap``
    (1 - cos_to_final); extra ``frame_std`` (std over frames of the per-frame token mean,
    the spread the paper's small stds may be) and ``tokens``.
    """

    name = "representation_gap"
    columns = ("layer", "cos_to_final", "cos_std", "gap")
    consecutive = False

    def __init__(self, tower: VisionTower) -> None:
        super().__init__(tower)
        layers = len(tower.blocks) + 1
        self.tokens = [RunningMoments() for _ in range(layers)]
        self.frames = [RunningMoments() for _ in range(layers)]

    def update(self, trace: FrameTrace) -> None:
        p = trace.num_prefix
        final = trace.dense_final[:, p:]
        for layer, hidden in enumerate(trace.dense_layers):
            cos = cosine(hidden[:, p:], final)
            self.tokens[layer].add(cos)
            self.frames[layer].add(cos.mean(dim=1))

    def table(self) -> pd.DataFrame:
        rows = [
            {
                "layer": layer,
                "cos_to_final": tokens.value,
                "cos_std": tokens.std,
                "gap": 1.0 - tokens.value,
                "frame_std": frames.std,
                "tokens": tokens.count,
            }
            for layer, (tokens, frames) in enumerate(zip(self.tokens, self.frames, strict=True))
        ]
        return pd.DataFrame(rows)


class FinalLayerStability(Probe):
    """§5.1 "Cortical Ghost Stability": do inactive patches keep their final-layer output?

    cos(z_i^t, z_i^{t-1}) of every patch's dense final-layer output between consecutive
    frames (t >= 1), split by the gate's decision at t. Columns: ``status`` ("inactive",
    "active"), ``cos_prev``, ``cos_std``, ``tokens``.
    """

    name = "final_layer_stability"
    columns = ("status", "cos_prev", "cos_std", "tokens")

    def __init__(self, tower: VisionTower) -> None:
        super().__init__(tower)
        self.moments = {"inactive": RunningMoments(), "active": RunningMoments()}
        self._previous: tuple[int, Tensor, Tensor] | None = None

    def update(self, trace: FrameTrace) -> None:
        final = trace.dense_final[:, trace.num_prefix :]
        if trace.t >= 1:
            if self._previous is None or not _follows(self._previous, trace):
                raise ValueError(
                    "final_layer_stability needs the frames of a clip batch in order "
                    "(t - 1 right before t), as trace_clips yields them"
                )
            cos = cosine(final, self._previous[2])
            self.moments["active"].add(cos[trace.keep])
            self.moments["inactive"].add(cos[~trace.keep])
        self._previous = (trace.t, trace.clips, final)

    def table(self) -> pd.DataFrame:
        rows = [
            {"status": status, "cos_prev": m.value, "cos_std": m.std, "tokens": m.count}
            for status, m in self.moments.items()
        ]
        return pd.DataFrame(rows)


def _follows(previous: tuple[int, Tensor, Tensor], trace: FrameTrace) -> bool:
    t, clips, _ = previous
    return t == trace.t - 1 and torch.equal(clips, trace.clips)


class ContextualIncompatibility(Probe):
    """T7: is Arch C's gap floor from sparse encoding (active shift) or from old cache slots?

    The paper does not define the two quantities; here, on frames t >= 1 and patches only:

    * **active shift** = 1 - cos(z_sparse, z_dense) for every *active* patch: its
      final-layer output from the sparse encoder (only the active tokens as context) against
      the same patch's final-layer output in the dense pass of the same frame;
    * **cache staleness** = 1 - cos(C, z_dense) for every *inactive* patch: its cortical
      cache slot (the output from the last frame it was active) against its dense
      final-layer output on the current frame.

    Columns: ``active_shift`` and ``cache_staleness`` (means over tokens and frames), their
    ``_std``, ``ratio`` (shift / staleness; inf when staleness is 0), ``staleness_share``
    (staleness / (shift + staleness): the most a more frequent refresh could recover),
    ``active_tokens``, ``inactive_tokens``.
    """

    name = "contextual_incompatibility"
    columns = (
        "active_shift",
        "active_shift_std",
        "cache_staleness",
        "cache_staleness_std",
        "ratio",
        "staleness_share",
        "active_tokens",
        "inactive_tokens",
    )

    def __init__(self, tower: VisionTower) -> None:
        super().__init__(tower)
        self.shift, self.staleness = RunningMoments(), RunningMoments()

    def update(self, trace: FrameTrace) -> None:
        if trace.t < 1:
            return
        p = trace.num_prefix
        dense = trace.dense_final[:, p:].float()
        shift = cosine_surprise(trace.sparse_final[:, p:].float(), dense)
        staleness = cosine_surprise(trace.cache[:, p:].float(), dense)
        self.shift.add(shift[trace.keep])
        self.staleness.add(staleness[~trace.keep])

    def table(self) -> pd.DataFrame:
        shift, stale = np.float64(self.shift.value), np.float64(self.staleness.value)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio, share = shift / stale, stale / (shift + stale)
        row = {
            "active_shift": float(shift),
            "active_shift_std": self.shift.std,
            "cache_staleness": float(stale),
            "cache_staleness_std": self.staleness.std,
            "ratio": float(ratio),
            "staleness_share": float(share),
            "active_tokens": self.shift.count,
            "inactive_tokens": self.staleness.count,
        }
        return pd.DataFrame([row])


PROBES: dict[str, type[Probe]] = {
    cls.name: cls
    for cls in (
        RepresentationGap,
        FinalLayerStability,
        ContextualIncompatibility,
        MapEntropy,
        PooledMagnitude,
        MapSurpriseSpearman,
    )
}


def run_probes(
    tower: VisionTower,
    pixels: Tensor,
    settings: TraceSettings | None = None,
    names: Sequence[str] | None = None,
    project: Projection | None = None,
    classifier: ZeroShotClassifier | None = None,
    labels: Sequence[int] | np.ndarray | None = None,
) -> dict[str, pd.DataFrame]:
    """Run the requested probes over ``pixels`` in one :func:`trace_clips` pass.

    Args:
        tower: The vision tower.
        pixels: ``[n, T, C, H, W]`` normalised frames of ``n`` clips.
        settings: Gate settings of the traced sparse architectures and the clip batch.
        names: Tables to make (keys of :data:`PROBES`). None: every probe this call can
            run (``pooled_magnitude`` only with ``project`` and ``classifier``; the MAP
            probes only on a tower with SigLIP's MAP head).
        project: Pooled output -> joint-space embedding (``pooled_magnitude``).
        classifier: Zero-shot classifier (``pooled_magnitude``).
        labels: ``[n]`` clip labels (``pooled_magnitude``'s ``top1_frame``).

    Returns:
        Table name -> table, in the order asked.

    Raises:
        ValueError: An unknown name, a named probe that cannot run (the message says what
            it needs), malformed clips or labels, or one frame per clip for probes that
            compare frames.
    """
    check_clips(pixels)
    context = {"project": project, "classifier": classifier, "labels": labels}
    if names is None:
        names = [n for n, cls in PROBES.items() if cls.unavailable(tower, **context) is None]
    unknown = [n for n in names if n not in PROBES]
    if unknown:
        raise ValueError(f"unknown probe(s) {unknown}; choose from {', '.join(PROBES)}")
    if labels is not None and np.asarray(labels).shape != (pixels.shape[0],):
        raise ValueError(
            f"labels must hold one class index per clip ({pixels.shape[0]}), got shape "
            f"{np.asarray(labels).shape}"
        )
    probes = [PROBES[n].from_context(tower, **context) for n in dict.fromkeys(names)]
    consecutive = [p.name for p in probes if p.consecutive]
    if pixels.shape[1] < 2 and consecutive:
        raise ValueError(f"{', '.join(consecutive)} compare frames t >= 1: clips need 2+ frames")
    with torch.inference_mode():  # trace tensors are inference tensors
        for trace in trace_clips(tower, pixels, settings):
            for probe in probes:
                probe.update(trace)
    return {p.name: p.table() for p in probes}
