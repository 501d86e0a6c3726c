"""What distillation is judged by: the original and the student, dense and sparse, per clip.

On the same clips the evaluator runs the *original* model (the frozen teacher) and the
student, each densely and through the sparse method at every probe (the operating point
and a grid of keep fractions). Per clip it records the top-1 hit, the fidelity (mean
over frames of the cosine of pooled embeddings) against the original's dense output and
against the student's own dense output, and the keep fraction. The dense student against
the dense original is the forgetting check.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from neuroflow.archs import make_arch
from neuroflow.core.gate import GateConfig
from neuroflow.eval.clip_loop import stream_clips
from neuroflow.eval.metrics import cosine_fidelity
from neuroflow.eval.stats import accuracy_summary, paired_comparison
from neuroflow.eval.zeroshot import Aggregation, ZeroShotClassifier, clip_logits
from neuroflow.models.tower import VisionTower

Projection = Callable[[Tensor], Tensor]
Run = tuple[Tensor, Tensor]  # embeddings [B, T, D], keep fraction [B, T]
MODELS = ("original", "student")
FIELDS = ("hit", "fidelity_original", "fidelity_dense", "keep", "clip")


@dataclass(frozen=True)
class Probe:
    """One sparse setting the models are evaluated at.

    Attributes:
        label: Row name (``"operating point"``, ``"k=0.10"``).
        gate: The gate of the sparse method at this probe.
    """

    label: str
    gate: GateConfig


def keep_probes(operating_point: GateConfig, keep_fractions: Sequence[float]) -> list[Probe]:
    """The operating point plus a budget-mode probe at each keep fraction."""
    probes = [Probe("operating point", operating_point)]
    for k in keep_fractions:
        gate = replace(operating_point, mode="budget", keep_fraction=float(k))
        probes.append(Probe(f"k={float(k):.2f}", gate))
    return probes


def path_names(probes: Sequence[Probe]) -> list[str]:
    """``"dense"`` then one path per probe."""
    return ["dense", *(p.label for p in probes)]


class DistillEvaluator:
    """Per-clip records of the original and the student on every path, batch by batch.

    Args:
        classifier: Zero-shot classifier (class text embeddings).
        probes: Sparse settings to evaluate at.
        method: The sparse method (a registered name; ``"B"`` for distillation).
        project: Tower output to the joint space (CLIP); None for SigLIP.
        aggregation: Clip aggregation of frame embeddings.
    """

    def __init__(
        self,
        classifier: ZeroShotClassifier,
        probes: Sequence[Probe],
        method: str = "B",
        project: Projection | None = None,
        aggregation: Aggregation = "mean",
    ) -> None:
        self.classifier, self.probes, self.method = classifier, list(probes), method
        self.project, self.aggregation = project or (lambda x: x), aggregation
        self.records: dict[tuple[str, str], dict[str, list[Tensor]]] = {}
        self._seen = 0
        # The original is frozen: its runs of a batch are computed once and reused.
        self._original: dict[Hashable, dict[str, Run]] = {}

    def reset(self) -> None:
        """Forget the clips seen so far (a new validation epoch)."""
        self.records, self._seen = {}, 0

    def _runs(self, tower: VisionTower, clips: Tensor) -> dict[str, Run]:
        """``path -> (embeddings [B, T, D], keep fraction [B, T])``: dense, then each probe."""
        dense = stream_clips(make_arch("dense", tower), clips).embeddings
        runs = {"dense": (dense, torch.ones(clips.shape[:2]))}
        for probe in self.probes:
            run = stream_clips(make_arch(self.method, tower, gate=probe.gate), clips)
            runs[probe.label] = (run.embeddings, run.keep_fraction)
        return runs

    @torch.no_grad()
    def update(
        self,
        original: VisionTower,
        student: VisionTower,
        clips: Tensor,
        labels: Tensor,
        clip_ids: Sequence[str] | None = None,
        cache_key: Hashable | None = None,
    ) -> None:
        """Run both models on a batch ``[B, T, 3, H, W]`` of clips with labels ``[B]``.

        Args:
            original: The frozen original tower.
            student: The tower being trained.
            clips: Normalised frames.
            labels: Class indices.
            clip_ids: Names of the clips (a record per clip id survives gathering across
                processes once, even where a distributed sampler served a clip twice).
            cache_key: Names this batch (e.g. ``("val", batch_index)``) so the original's
                runs of it are reused on later calls; None computes them every time.
        """
        ids = torch.tensor(
            [zlib.crc32(str(i).encode()) for i in clip_ids]
            if clip_ids is not None
            else range(self._seen, self._seen + clips.shape[0])
        )
        self._seen += clips.shape[0]
        if cache_key is None or cache_key not in self._original:
            runs = self._runs(original, clips)
            if cache_key is not None:
                self._original[cache_key] = runs
        else:
            runs = self._original[cache_key]
        reference = runs["dense"][0]
        for name, model_runs in (("original", runs), ("student", self._runs(student, clips))):
            dense = model_runs["dense"][0]
            for path, (emb, keep) in model_runs.items():
                self._add(name, path, emb, keep, (reference, dense), labels, ids)

    def _add(
        self,
        model: str,
        path: str,
        emb: Tensor,
        keep: Tensor,
        references: tuple[Tensor, Tensor],
        labels: Tensor,
        ids: Tensor,
    ) -> None:
        logits = clip_logits(self.classifier, self.project(emb), self.aggregation)
        record = self.records.setdefault((model, path), {f: [] for f in FIELDS})
        record["hit"].append((logits.argmax(dim=-1) == labels.to(logits.device)).cpu())
        for field, reference in zip(FIELDS[1:3], references, strict=True):
            record[field].append(cosine_fidelity(emb, reference).mean(dim=1).cpu())
        record["keep"].append(keep.float().mean(dim=1).cpu())
        record["clip"].append(ids)

    def tensors(self) -> dict[tuple[str, str], dict[str, Tensor]]:
        """Per-clip tensors of every (model, path): the values to gather across processes."""
        return {
            key: {f: torch.cat(values) for f, values in record.items()}
            for key, record in self.records.items()
        }


def unique_clips(per_clip: dict[tuple[str, str], dict[str, Tensor]]) -> dict:
    """Each clip once (its first record): a distributed sampler pads shards with repeats."""
    out = {}
    for key, values in per_clip.items():
        ids = values["clip"].tolist()
        first = sorted({c: i for i, c in reversed(list(enumerate(ids)))}.values())
        out[key] = {f: v[first] for f, v in values.items()}
    return out


def summary_rows(per_clip: dict[tuple[str, str], dict[str, Tensor]]) -> list[dict]:
    """One row per (model, path): top-1 with its Wilson interval, retention against the
    original dense, both fidelities and the keep fraction."""
    dense = per_clip[("original", "dense")]["hit"].bool().numpy()
    dense_acc = float(dense.mean())
    rows = []
    for (model, path), values in per_clip.items():
        acc = accuracy_summary(values["hit"].bool().numpy())
        rows.append(
            {
                "model": model,
                "path": path,
                "top1": acc["acc"],
                "ci_low": acc["ci_low"],
                "ci_high": acc["ci_high"],
                "clips": acc["n"],
                "retention": acc["acc"] / dense_acc if dense_acc else float("nan"),
                "fidelity_original": float(values["fidelity_original"].mean()),
                "fidelity_dense": float(values["fidelity_dense"].mean()),
                "keep_fraction": float(values["keep"].mean()),
            }
        )
    return rows


def before_after(per_clip: dict[tuple[str, str], dict[str, Tensor]]) -> dict[str, dict]:
    """Per path: the original's and the student's top-1 and their paired difference
    (student - original, bootstrap 95% interval and McNemar p on the same clips)."""
    out = {}
    paths = dict.fromkeys(path for _, path in per_clip)
    for path in paths:
        before = per_clip[("original", path)]["hit"].bool().numpy()
        after = per_clip[("student", path)]["hit"].bool().numpy()
        out[path] = {
            "before": accuracy_summary(before),
            "after": accuracy_summary(after),
            "difference": paired_comparison(after, before),
        }
    return out
