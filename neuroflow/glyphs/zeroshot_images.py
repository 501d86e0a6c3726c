"""Zero-shot top-1 of an image-text model on held-out glyph images.

Uses :mod:`neuroflow.eval.zeroshot` (the code path of every zero-shot evaluation) with the
class names and caption templates the mini SigLIP was trained on. The held-out set draws
backgrounds from photos never seen in training and has its own seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from neuroflow.eval.zeroshot import build_classifier, encode_images
from neuroflow.glyphs.dataset import DataConfig, render_set, to_pixels
from neuroflow.glyphs.render import CLASS_NAMES
from neuroflow.glyphs.text import TEMPLATES

HELDOUT_SEED = 1000  # the held-out image set; training uses the recipe seed


def pixel_stats(processor: object) -> tuple[list[float], list[float]]:
    """Normalisation mean/std of a processor's image processor (0.5/0.5 when absent)."""
    images = getattr(processor, "image_processor", None)
    mean = list(getattr(images, "image_mean", None) or (0.5, 0.5, 0.5))
    std = list(getattr(images, "image_std", None) or (0.5, 0.5, 0.5))
    return mean, std


def heldout_images(
    count: int, data: DataConfig | None = None, seed: int = HELDOUT_SEED, workers: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` images of the held-out set (unseen background photos)."""
    return render_set(count, "heldout", seed, data, workers=workers)


@torch.no_grad()
def zero_shot_predictions(
    model: nn.Module,
    processor: object,
    images: np.ndarray,
    num_classes: int = len(CLASS_NAMES),
    templates: Sequence[str] = TEMPLATES,
) -> torch.Tensor:
    """Predicted class of every uint8 ``[n, S, S, 3]`` image (prompt ensemble)."""
    classifier = build_classifier(model, processor, CLASS_NAMES[:num_classes], templates)
    mean, std = pixel_stats(processor)
    return classifier.predict(encode_images(model, to_pixels(images, mean, std)))


def zero_shot_top1(
    model: nn.Module,
    processor: object,
    images: np.ndarray,
    labels: np.ndarray,
    num_classes: int = len(CLASS_NAMES),
    templates: Sequence[str] = TEMPLATES,
) -> float:
    """Zero-shot top-1 accuracy on labelled images."""
    pred = zero_shot_predictions(model, processor, images, num_classes, templates)
    return float((pred == torch.as_tensor(labels)).float().mean())
