"""Evaluation: zero-shot classification (classes x templates, clip aggregation) and metrics."""

from neuroflow.eval.zeroshot import (
    AGGREGATIONS,
    ZeroShotClassifier,
    build_classifier,
    clip_logits,
    encode_images,
    encode_text,
    project_image,
)

__all__ = [
    "AGGREGATIONS",
    "ZeroShotClassifier",
    "build_classifier",
    "clip_logits",
    "encode_images",
    "encode_text",
    "project_image",
]
