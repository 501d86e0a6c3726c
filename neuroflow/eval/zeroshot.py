"""Zero-shot classification with an image-text model: classes x templates, clip aggregation.

One code path for every image-text model neuroflow evaluates (the project-trained mini
SigLIP on moving glyphs, hub SigLIP/CLIP checkpoints on UCF-101):

1. :func:`build_classifier` embeds every ``template.format(class_name)`` prompt, L2-normalises
   each embedding, averages over templates and renormalises (the prompt ensemble).
2. :func:`project_image` turns a tower's pooled output (``ArchOutput.embedding`` or HF
   ``pooler_output``) into the joint space: CLIP applies ``visual_projection``, SigLIP's
   pooled output already is the image embedding.
3. :meth:`ZeroShotClassifier.logits` scores L2-normalised image embeddings (cosine times the
   model's logit scale, plus SigLIP's bias; the argmax does not depend on either).
4. :func:`clip_logits` aggregates the frames of a clip: the mean of normalised frame
   embeddings (default), the last frame, or the mean of per-frame logits.

Pure torch + transformers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Aggregation = Literal["mean", "last", "logit_mean"]
AGGREGATIONS = ("mean", "last", "logit_mean")


def model_family(model: nn.Module) -> str:
    """``"siglip"`` or ``"clip"`` from an HF image-text model's config."""
    model_type = str(getattr(getattr(model, "config", None), "model_type", ""))
    if model_type.startswith("siglip"):
        return "siglip"
    if model_type.startswith("clip"):
        return "clip"
    raise TypeError(
        f"zero-shot needs a SigLIP or CLIP image-text model, got {type(model).__name__} "
        f"(model_type={model_type!r})"
    )


def _pooled(output: object) -> Tensor:
    """``pooler_output`` of a transformers-5 features call (older versions return tensors)."""
    return output if isinstance(output, Tensor) else output.pooler_output  # type: ignore[attr-defined]


@torch.no_grad()
def encode_text(
    model: nn.Module, tokenizer: object, texts: Sequence[str], batch_size: int = 256
) -> Tensor:
    """L2-normalised text embeddings ``[len(texts), D]``.

    SigLIP pools the last position and was trained with ``padding="max_length"``; CLIP
    pools the end-of-text token, so padding to the longest prompt is enough.
    """
    if not texts:
        raise ValueError("no prompts to encode")
    family = model_family(model)
    padding = "max_length" if family == "siglip" else True
    device = next(model.parameters()).device
    out = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(
            list(texts[start : start + batch_size]),
            padding=padding,
            truncation=True,
            return_tensors="pt",
        )
        batch = {k: v.to(device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}
        out.append(_pooled(model.get_text_features(**batch)).float())
    return F.normalize(torch.cat(out), dim=-1)


def project_image(model: nn.Module, pooled: Tensor) -> Tensor:
    """Map a vision tower's pooled output into the joint image-text space (unnormalised).

    Args:
        model: The HF ``SiglipModel`` or ``CLIPModel``.
        pooled: ``[..., D]`` pooled output (HF ``pooler_output`` or ``ArchOutput.embedding``).
    """
    if model_family(model) == "clip":
        proj = model.visual_projection  # type: ignore[attr-defined]
        return proj(pooled.to(proj.weight.dtype))
    return pooled


@torch.no_grad()
def encode_images(model: nn.Module, pixel_values: Tensor, batch_size: int = 512) -> Tensor:
    """L2-normalised image embeddings ``[B, D]`` of a dense forward pass."""
    out = []
    for start in range(0, pixel_values.shape[0], batch_size):
        batch = pixel_values[start : start + batch_size]
        pooled = _pooled(model.vision_model(pixel_values=batch))
        out.append(project_image(model, pooled).float())
    return F.normalize(torch.cat(out), dim=-1)


@dataclass
class ZeroShotClassifier:
    """Class embeddings from prompts, and the model's logit calibration.

    Attributes:
        weights: ``[C, D]`` L2-normalised class embeddings (template ensemble).
        class_names: Names in class-index order.
        scale: Multiplier of the cosine similarities (``logit_scale.exp()``).
        bias: Added to the scaled similarities (SigLIP's ``logit_bias``; 0 for CLIP).
    """

    weights: Tensor
    class_names: tuple[str, ...]
    scale: float = 1.0
    bias: float = 0.0

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return self.weights.shape[0]

    def logits(self, image_embeds: Tensor) -> Tensor:
        """``[..., C]`` logits of ``[..., D]`` image embeddings (normalised here)."""
        if image_embeds.shape[-1] != self.weights.shape[1]:
            raise ValueError(
                f"image embeddings have width {image_embeds.shape[-1]} but the class "
                f"embeddings {self.weights.shape[1]}; project tower outputs with project_image"
            )
        emb = F.normalize(image_embeds.float(), dim=-1)
        return emb @ self.weights.to(emb.device).T * self.scale + self.bias

    def predict(self, image_embeds: Tensor) -> Tensor:
        """Top-1 class index of each embedding."""
        return self.logits(image_embeds).argmax(dim=-1)


def build_classifier(
    model: nn.Module,
    tokenizer: object,
    class_names: Sequence[str],
    templates: Sequence[str] = ("a photo of a {}.",),
) -> ZeroShotClassifier:
    """Zero-shot classifier from ``class_names`` x ``templates``.

    Args:
        model: HF ``SiglipModel`` or ``CLIPModel``.
        tokenizer: Its tokenizer (or a processor, whose ``tokenizer`` is used).
        class_names: One name per class, in label order.
        templates: Prompt templates with one ``{}`` for the class name.

    Returns:
        The classifier with the template-ensembled, renormalised class embeddings.
    """
    if not class_names:
        raise ValueError("no class names given")
    if not templates or any("{}" not in t for t in templates):
        raise ValueError(f"every template needs one '{{}}' for the class name, got {templates}")
    tokenizer = getattr(tokenizer, "tokenizer", tokenizer)
    prompts = [t.format(name) for name in class_names for t in templates]
    emb = encode_text(model, tokenizer, prompts).view(len(class_names), len(templates), -1)
    weights = F.normalize(emb.mean(dim=1), dim=-1)
    scale = float(model.logit_scale.detach().exp()) if hasattr(model, "logit_scale") else 1.0
    bias = float(model.logit_bias.detach()) if hasattr(model, "logit_bias") else 0.0
    return ZeroShotClassifier(weights, tuple(class_names), scale, bias)


def clip_logits(
    classifier: ZeroShotClassifier,
    frame_embeds: Tensor,
    how: Aggregation = "mean",
    valid: Tensor | None = None,
) -> Tensor:
    """Clip-level logits ``[B, C]`` from frame embeddings ``[B, T, D]``.

    Args:
        classifier: The zero-shot classifier.
        frame_embeds: Image embeddings of every frame (joint space, any norm).
        how: ``"mean"`` (normalised mean of normalised frame embeddings), ``"last"`` (the
            last valid frame) or ``"logit_mean"`` (mean of per-frame logits).
        valid: ``[B, T]`` bool marking real frames of padded clips (default: all).
    """
    if frame_embeds.dim() != 3:
        raise ValueError(f"frame embeddings must be [B, T, D], got {tuple(frame_embeds.shape)}")
    b, t, _ = frame_embeds.shape
    if valid is None:
        valid = torch.ones(b, t, dtype=torch.bool, device=frame_embeds.device)
    if not valid.any(dim=1).all():
        raise ValueError("every clip needs at least one valid frame")
    weight = valid.float().unsqueeze(-1)
    emb = F.normalize(frame_embeds.float(), dim=-1)
    if how == "mean":
        return classifier.logits((emb * weight).sum(dim=1))
    if how == "last":
        last = (valid.long() * torch.arange(t, device=valid.device)).argmax(dim=1)
        return classifier.logits(emb[torch.arange(b), last])
    if how == "logit_mean":
        return (classifier.logits(emb) * weight).sum(dim=1) / weight.sum(dim=1)
    raise ValueError(f"unknown clip aggregation {how!r}; choose one of {', '.join(AGGREGATIONS)}")
