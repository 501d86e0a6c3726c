"""Emergent segmentation: connected clusters of active patches, each labelled from its own tokens.

The gate's keep mask of a frame is a motion mask on the patch grid (paper §6). Its connected
components (:func:`~neuroflow.analysis.patch_clusters.clusters`, 8-connectivity, at least 2
patches) are candidate objects. Arch C's cortical cache holds every patch's final-layer
output, so a cluster's tokens alone can go through the tower's pooling head (SigLIP's MAP head
attends over whatever tokens it is given) and the joint image-text space, which names the
cluster zero-shot (:func:`label_clusters`).
:func:`segment_stream` runs both over the frames of one stream; :func:`track_ids` links the
clusters of consecutive frames by their centroids.

Towers whose head reads a class token (CLIP, ViT) cannot label a cluster this way: their
pooled output ignores the patch tokens, so every cluster would get the frame's label.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from neuroflow.analysis.patch_clusters import Cluster, clusters
from neuroflow.eval.zeroshot import ZeroShotClassifier


@dataclass(frozen=True)
class ClusterLabel:
    """A cluster with its zero-shot label.

    Attributes:
        cluster: The cluster.
        label: Best class name.
        score: Its logit (cosine times the model's scale, plus SigLIP's bias).
        probability: Its softmax probability over the given classes.
        top: ``(name, probability)`` of the best ``top_k`` classes, best first.
        embedding: ``[D]`` L2-normalised joint-space embedding of the cluster (for matching).
    """

    cluster: Cluster
    label: str
    score: float
    probability: float
    top: tuple[tuple[str, float], ...]
    embedding: Tensor


@dataclass(frozen=True)
class FrameSegments:
    """The clusters of one frame.

    Attributes:
        frame: Frame index within the stream (0 = the first frame given).
        keep_fraction: Share of patches the gate kept.
        first_frame: The gate ran the frame dense (first after a reset): its mask is all on.
        keep_grid: ``[rows, cols]`` bool keep mask.
        labels: One :class:`ClusterLabel` per cluster, in cluster-id order.
        embedding: ``[D]`` the architecture's pooled output of the whole frame.
    """

    frame: int
    keep_fraction: float
    first_frame: bool
    keep_grid: np.ndarray
    labels: list[ClusterLabel]
    embedding: Tensor


def check_pools_patches(tower: object) -> None:
    """Raise ``ValueError`` for a tower whose pooled output cannot depend on a token subset."""
    prefix = int(getattr(tower, "num_prefix_tokens", 0))
    if prefix:
        raise ValueError(
            f"{type(tower).__name__} pools its class token, so a cluster's patch tokens never "
            "reach the pooled output and every cluster would get the frame's label; cluster "
            "labels need an attention-pooling head over patch tokens (SigLIP's MAP head)"
        )


@torch.no_grad()
def pool_cluster(tower: object, final_tokens: Tensor, cluster: Cluster) -> Tensor:
    """``[D]`` pooled tower output of one cluster's final-layer patch tokens.

    Args:
        tower: The vision tower (:meth:`~neuroflow.models.tower.VisionTower.fast_pool`).
        final_tokens: ``[P + N, D]`` final-layer tokens of one frame (class tokens first;
            a tower that pools patch tokens has none, so ``P = 0``).
        cluster: The cluster; its patch ``i`` is token ``P + i``.
    """
    check_pools_patches(tower)
    offset = int(getattr(tower, "num_prefix_tokens", 0))
    index = torch.as_tensor(cluster.patches, device=final_tokens.device) + offset
    return tower.fast_pool(final_tokens[index][None])[0]


@torch.no_grad()
def label_clusters(
    tower: object,
    final_tokens: Tensor,
    found: Sequence[Cluster],
    project: Callable[[Tensor], Tensor],
    classifier: ZeroShotClassifier,
    class_names: Sequence[str] | None = None,
    top_k: int = 3,
) -> list[ClusterLabel]:
    """Name every cluster zero-shot from its own pooled tokens.

    Args:
        tower: The vision tower whose head pools over patch tokens (SigLIP).
        final_tokens: ``[P + N, D]`` final-layer tokens of one frame, e.g. ``state.cache[b]``
            after an Arch C step.
        found: The frame's clusters (:func:`clusters`).
        project: Pooled tower output -> joint space (``partial(project_image, model)``).
        classifier: Class embeddings of the prompts.
        class_names: Names of the classifier's classes (default: its own).
        top_k: Classes listed in :attr:`ClusterLabel.top`.

    Raises:
        ValueError: The tokens are not ``[P + N, D]``, a patch index is out of range, the
            names do not match the classes, or the tower pools a class token.
    """
    names = tuple(class_names) if class_names is not None else classifier.class_names
    if len(names) != classifier.num_classes:
        raise ValueError(f"{len(names)} class names for {classifier.num_classes} classes")
    if final_tokens.dim() != 2:
        raise ValueError(f"final_tokens must be [P + N, D], got {tuple(final_tokens.shape)}")
    patches = final_tokens.shape[0] - int(getattr(tower, "num_prefix_tokens", 0))
    if any(c.patches[-1] >= patches for c in found):
        raise ValueError(f"a cluster names a patch beyond the frame's {patches} patches")
    if not found:
        return []
    pooled = torch.stack([pool_cluster(tower, final_tokens, c) for c in found])
    joint = F.normalize(project(pooled.to(classifier.weights.dtype)).float(), dim=-1)
    logits = classifier.logits(joint)
    probs = logits.softmax(dim=-1)
    best = probs.topk(min(int(top_k), len(names)), dim=-1)
    out = []
    for row, cluster in enumerate(found):
        top = tuple(
            (names[i], float(p))
            for i, p in zip(best.indices[row].tolist(), best.values[row].tolist(), strict=True)
        )
        first = best.indices[row, 0]
        out.append(
            ClusterLabel(
                cluster, names[first], float(logits[row, first]), top[0][1], top, joint[row].cpu()
            )
        )
    return out


def _frames(frames: Tensor | Iterable[Tensor]) -> Iterable[Tensor]:
    if isinstance(frames, Tensor):
        if frames.dim() != 4:
            raise ValueError(f"a frames tensor must be [T, 3, H, W], got {tuple(frames.shape)}")
        return iter(frames)
    return frames


@torch.no_grad()
def segment_stream(
    arch: torch.nn.Module,
    tower: object | None,
    frames: Tensor | Iterable[Tensor],
    project: Callable[[Tensor], Tensor],
    classifier: ZeroShotClassifier,
    class_names: Sequence[str] | None = None,
    min_patches: int = 2,
    connectivity: int = 8,
    top_k: int = 3,
) -> list[FrameSegments]:
    """Clusters of every frame of one stream, each labelled from Arch C's cache.

    Args:
        arch: A cortical-cache method (Arch C, D or a C baseline): its state's cache holds
            every patch's final-layer output after each step.
        tower: Its tower (None: ``arch.tower``).
        frames: ``[T, 3, H, W]`` normalised frames, or an iterable of ``[3, H, W]`` /
            ``[1, 3, H, W]`` frames (read lazily).
        project, classifier, class_names, top_k: As for :func:`label_clusters`.
        min_patches, connectivity: As for :func:`clusters`.

    Raises:
        ValueError: ``arch`` keeps no cortical cache, or a frame is not one image.
    """
    if not getattr(type(arch), "uses_cache", False):
        raise ValueError(
            f"segmentation needs a cortical-cache method (Arch C), got "
            f"{getattr(arch, 'name', type(arch).__name__)!r}: only its cache holds every "
            "patch's final-layer output"
        )
    tower = arch.tower if tower is None else tower
    check_pools_patches(tower)
    state = arch.new_state(1)
    records = []
    for t, frame in enumerate(_frames(frames)):
        pixels = frame if frame.dim() == 4 else frame[None]
        if pixels.dim() != 4 or pixels.shape[0] != 1:
            shape = tuple(frame.shape)
            raise ValueError(f"frame {t} must be [3, H, W] or [1, 3, H, W], got {shape}")
        fresh = getattr(state.gate, "fresh", None)  # set before a stream's first frame
        first = bool(fresh[0]) if fresh is not None else t == 0
        out = arch(pixels, state)
        grid = np.asarray(out.keep_mask[0].cpu().numpy().reshape(state.grid), dtype=bool)
        found = clusters(grid, min_patches, connectivity)
        labels = label_clusters(
            tower, state.cache[0], found, project, classifier, class_names, top_k
        )
        keep = float(out.keep_fraction[0])
        records.append(FrameSegments(t, keep, first, grid, labels, out.embedding[0].cpu()))
    return records


def track_ids(records: Sequence[FrameSegments], max_distance: float = 0.25) -> list[list[int]]:
    """Track id of every cluster: clusters of consecutive frames matched by centroid.

    Each frame's clusters are matched to the previous frame's one-to-one by the Hungarian
    algorithm on the distance between normalised centroids; a pair further apart than
    ``max_distance`` (share of the frame) does not match, and an unmatched cluster starts a
    new track. A frame with no cluster ends every track.

    Returns:
        Per frame, one track id per cluster (in cluster-id order); ids count up from 0.
    """
    ids: list[list[int]] = []
    previous: list[tuple[tuple[float, float], int]] = []
    next_id = 0
    for record in records:
        centres = [lab.cluster.centroid_norm for lab in record.labels]
        own = [-1] * len(centres)
        if previous and centres:
            cost = np.linalg.norm(
                np.asarray(centres)[:, None] - np.asarray([p[0] for p in previous])[None], axis=-1
            )
            for i, j in zip(*linear_sum_assignment(cost), strict=True):
                if cost[i, j] <= max_distance:
                    own[i] = previous[j][1]
        for i, value in enumerate(own):
            if value < 0:
                own[i], next_id = next_id, next_id + 1
        ids.append(own)
        previous = list(zip(centres, own, strict=True))
    return ids
