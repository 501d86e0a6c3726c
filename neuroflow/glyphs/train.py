"""The two training stages of the mini SigLIP.

1. **Cross-entropy warm start** of the vision tower: ``pooler_output`` -> linear classifier,
   supervised on the digit labels. A from-scratch ViT learns glyph shape this way within
   CPU minutes; the contrastive loss alone stayed at chance (see the project notes).
2. **Sigmoid stage**: the whole ``SiglipModel`` with SigLIP's pairwise sigmoid loss, where
   every image-caption pair of the same class is a positive (the built-in
   ``return_loss=True`` treats same-class pairs as negatives, which is wrong for 10
   classes). The vision tower keeps a low learning rate so the warm start is not undone.

Both stages draw batches from a pre-rendered pool with a seeded generator, use AdamW
(betas 0.9/0.95, no decay on biases and norms), linear warm-up, cosine decay and gradient
clipping at 1.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from neuroflow.glyphs.dataset import to_pixels
from neuroflow.glyphs.text import random_captions

Logger = Callable[[dict], None]


@dataclass(frozen=True)
class StageConfig:
    """Optimisation settings of one stage.

    Attributes:
        steps: Optimiser steps.
        lr: Peak learning rate (text tower and logit parameters in the sigmoid stage).
        warmup: Linear warm-up steps.
        batch: Images per step.
        weight_decay: AdamW decay of weight matrices.
        min_lr_ratio: Final learning rate as a share of the peak.
        vision_lr: Vision-tower learning rate in the sigmoid stage (None: ``lr``).
    """

    steps: int
    lr: float
    warmup: int = 50
    batch: int = 128
    weight_decay: float = 0.05
    min_lr_ratio: float = 0.05
    vision_lr: float | None = None


def schedule(stage: StageConfig) -> Callable[[int], float]:
    """Learning-rate multiplier: linear warm-up, then cosine decay to ``min_lr_ratio``."""

    def factor(step: int) -> float:
        warm = min(1.0, (step + 1) / max(1, stage.warmup))
        progress = min(1.0, step / max(1, stage.steps))
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return warm * (stage.min_lr_ratio + (1.0 - stage.min_lr_ratio) * cosine)

    return factor


def param_groups(modules: Iterable[tuple[nn.Module, float]], weight_decay: float) -> list[dict]:
    """AdamW groups per ``(module, lr)``: decay on matrices, none on biases/norms/scalars."""
    groups = []
    for module, lr in modules:
        params = [p for p in module.parameters() if p.requires_grad]
        groups.append(
            {"params": [p for p in params if p.dim() >= 2], "lr": lr, "weight_decay": weight_decay}
        )
        groups.append({"params": [p for p in params if p.dim() < 2], "lr": lr, "weight_decay": 0.0})
    return [g for g in groups if g["params"]]


def optimiser(groups: list[dict], stage: StageConfig) -> tuple[torch.optim.Optimizer, object]:
    """AdamW over ``groups`` and its warm-up/cosine scheduler."""
    opt = torch.optim.AdamW(groups, betas=(0.9, 0.95))
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, schedule(stage))


def multi_positive_sigmoid_loss(
    logits: Tensor, image_labels: Tensor, text_labels: Tensor
) -> Tensor:
    """SigLIP's sigmoid loss with every same-class image-text pair as a positive.

    Args:
        logits: ``[B_img, B_txt]`` scaled and biased similarities.
        image_labels: ``[B_img]`` class of every image.
        text_labels: ``[B_txt]`` class of every caption.

    Returns:
        Negative log-likelihood summed over captions, averaged over images (big_vision).
    """
    sign = (image_labels[:, None] == text_labels[None, :]).to(logits.dtype) * 2 - 1
    return -F.logsigmoid(sign * logits).sum(dim=1).mean()


def _batch(
    pool: np.ndarray, labels: np.ndarray, size: int, gen: torch.Generator
) -> tuple[Tensor, Tensor, np.ndarray]:
    idx = torch.randint(0, len(pool), (size,), generator=gen).numpy()
    return to_pixels(pool[idx]), torch.as_tensor(labels[idx]), labels[idx]


def _step(loss: Tensor, opt: torch.optim.Optimizer, sched: object, params: list[Tensor]) -> None:
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    sched.step()  # type: ignore[attr-defined]


def train_ce(
    vision: nn.Module,
    pool: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    stage: StageConfig,
    seed: int,
    log: Logger | None = None,
    log_every: int = 100,
) -> list[float]:
    """Cross-entropy warm start of a ``SiglipVisionModel`` (its head included).

    Args:
        vision: The vision tower; trained in place.
        pool: ``[n, S, S, 3]`` uint8 training images.
        labels: ``[n]`` class labels.
        num_classes: Classes of the linear probe.
        stage: Optimisation settings.
        seed: Batch-sampling and probe-init seed.
        log: Receives ``{"stage", "step", "loss", "seconds"}`` every ``log_every`` steps.
        log_every: Logging period in steps.

    Returns:
        The loss of every step.
    """
    torch.manual_seed(seed)
    probe = nn.Linear(vision.config.hidden_size, num_classes)
    groups = param_groups([(vision, stage.lr), (probe, stage.lr)], stage.weight_decay)
    opt, sched = optimiser(groups, stage)
    params = [p for g in groups for p in g["params"]]
    gen = torch.Generator().manual_seed(seed)
    vision.train()
    losses, start = [], time.perf_counter()
    for step in range(stage.steps):
        pixels, target, _ = _batch(pool, labels, stage.batch, gen)
        loss = F.cross_entropy(probe(vision(pixel_values=pixels).pooler_output), target)
        _step(loss, opt, sched, params)
        losses.append(loss.item())
        if log is not None and (step % log_every == 0 or step == stage.steps - 1):
            log(
                {
                    "stage": "ce",
                    "step": step,
                    "loss": float(np.mean(losses[-log_every:])),
                    "seconds": time.perf_counter() - start,
                }
            )
    vision.eval()
    return losses


def train_sigmoid(
    model: nn.Module,
    tokenizer: object,
    pool: np.ndarray,
    labels: np.ndarray,
    stage: StageConfig,
    seed: int,
    log: Logger | None = None,
    log_every: int = 50,
) -> list[float]:
    """The sigmoid image-text stage over a full ``SiglipModel`` (trained in place).

    Each image gets a caption from a random template; pairs of the same class are positives.
    The text tower and ``logit_scale``/``logit_bias`` use ``stage.lr``, the vision tower
    ``stage.vision_lr``.

    Returns:
        The loss of every step.
    """
    vision_lr = stage.vision_lr if stage.vision_lr is not None else stage.lr
    scalars = nn.ParameterList([model.logit_scale, model.logit_bias])
    groups = param_groups(
        [(model.vision_model, vision_lr), (model.text_model, stage.lr), (scalars, stage.lr)],
        stage.weight_decay,
    )
    opt, sched = optimiser(groups, stage)
    params = [p for g in groups for p in g["params"]]
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    model.train()
    losses, start = [], time.perf_counter()
    for step in range(stage.steps):
        pixels, target, raw = _batch(pool, labels, stage.batch, gen)
        text = tokenizer(
            random_captions(rng, raw.tolist()),
            padding="max_length",
            truncation=True,
            return_tensors="pt",
        )
        out = model(
            input_ids=text["input_ids"], attention_mask=text["attention_mask"], pixel_values=pixels
        )
        loss = multi_positive_sigmoid_loss(out.logits_per_image, target, target)
        _step(loss, opt, sched, params)
        losses.append(loss.item())
        if log is not None and (step % log_every == 0 or step == stage.steps - 1):
            log(
                {
                    "stage": "sigmoid",
                    "step": step,
                    "loss": float(np.mean(losses[-log_every:])),
                    "seconds": time.perf_counter() - start,
                }
            )
    model.eval()
    return losses
