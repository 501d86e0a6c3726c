"""Distillation losses between the sparse student's and the dense teacher's pooled embeddings.

Every term is selectable with a weight, because the paper's text and its code disagree on
the loss (cosine plus MSE on L2-normalised embeddings in the text, raw MSE plus half the
cosine distance in the code; see the paper digest §6). Raw MSE also constrains the
embedding's norm, which zero-shot logits do not read but downstream users of the raw
``pooler_output`` do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

Logits = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class DistillLoss:
    """Weighted sum of distillation terms on ``[B, T, D]`` pooled frame embeddings.

    The terms are computed per frame and, weighted by ``clip``, on the clip embedding (the
    normalised mean of the L2-normalised frame embeddings: what a clip-level zero-shot
    prediction reads). At the clip level, frames that saw few tokens only have to add up to
    the teacher's clip, not each reproduce the teacher's frame.

    Attributes:
        cosine: Weight of the cosine distance ``1 - cos(s, t)``.
        mse: Weight of the MSE of the L2-normalised embeddings (per dimension).
        raw_mse: Weight of the MSE of the raw embeddings (constrains the norm too).
        logit_kd: Weight of the zero-shot-logit KD term: KL(teacher || student) of the
            softmax over the class text embeddings (needs ``logits``).
        temperature: Softmax temperature of the KD term (its KL is scaled by T^2).
        dense: Weight of the same loss on the student's *dense* pass (every frame, every
            token) against the teacher: it holds the dense model where it was (the guard
            against forgetting). 0 skips the dense pass.
        frame: Weight of the per-frame terms.
        clip: Weight of the same terms on the clip embeddings (needs ``[B, T, D]`` inputs).
        dense_frames: Frames per clip the dense pass runs on, drawn at random each step
            (0: every frame). A few frames hold the dense model as well as all of them, at a
            fraction of the cost.
    """

    cosine: float = 1.0
    mse: float = 0.0
    raw_mse: float = 0.0
    logit_kd: float = 0.0
    temperature: float = 1.0
    dense: float = 0.0
    frame: float = 1.0
    clip: float = 0.0
    dense_frames: int = 2

    def __post_init__(self) -> None:
        weights = (self.cosine, self.mse, self.raw_mse, self.logit_kd)
        levels = (self.frame, self.clip, self.dense)
        if any(w < 0 for w in (*weights, *levels)) or self.dense_frames < 0:
            raise ValueError(f"loss weights must be non-negative, got {self}")
        if not any(w > 0 for w in weights) or not (self.frame > 0 or self.clip > 0):
            raise ValueError(
                "every loss weight is 0: set one of cosine, mse, raw_mse, logit_kd and one "
                "of frame, clip"
            )
        if self.temperature <= 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")

    def __call__(
        self, student: Tensor, teacher: Tensor, logits: Logits | None = None
    ) -> dict[str, Tensor]:
        """The loss terms and their weighted total (``"loss"``).

        Args:
            student: ``[B, T, D]`` (or ``[N, D]`` without clip terms) student embeddings.
            teacher: The teacher's embeddings of the same frames (detached here).
            logits: Maps embeddings to zero-shot class logits; required when ``logit_kd``
                is set.
        """
        teacher = teacher.detach().to(student.dtype)
        terms = self.terms(student, teacher, logits)
        total = self.frame * terms.pop("total")
        if self.clip:
            if student.dim() != 3:
                raise ValueError("clip terms need [B, T, D] frame embeddings")
            clip = self.terms(clip_embedding(student), clip_embedding(teacher), logits)
            terms.update({f"clip_{k}": v for k, v in clip.items() if k != "total"})
            total = total + self.clip * clip["total"]
        terms["loss"] = total
        return terms

    def terms(self, student: Tensor, teacher: Tensor, logits: Logits | None) -> dict[str, Tensor]:
        """Each weighted term of ``student`` against ``teacher`` and their sum ``"total"``."""
        s, t = F.normalize(student, dim=-1), F.normalize(teacher, dim=-1)
        terms: dict[str, Tensor] = {}
        if self.cosine:
            terms["cosine"] = (1.0 - (s * t).sum(dim=-1)).mean()
        if self.mse:
            terms["mse"] = F.mse_loss(s, t)
        if self.raw_mse:
            terms["raw_mse"] = F.mse_loss(student, teacher)
        if self.logit_kd:
            if logits is None:
                raise ValueError("logit_kd needs the zero-shot logits (class text embeddings)")
            terms["logit_kd"] = self._kd(logits(student), logits(teacher))
        weight = {"cosine": self.cosine, "mse": self.mse, "raw_mse": self.raw_mse}
        weight["logit_kd"] = self.logit_kd
        terms["total"] = torch.stack([weight[k] * v for k, v in terms.items()]).sum()
        return terms

    def _kd(self, student: Tensor, teacher: Tensor) -> Tensor:
        temp = self.temperature
        log_p = F.log_softmax(student.flatten(0, -2) / temp, dim=-1)
        target = F.softmax(teacher.detach().flatten(0, -2) / temp, dim=-1)
        return F.kl_div(log_p, target, reduction="batchmean") * temp**2


def clip_embedding(frames: Tensor) -> Tensor:
    """``[B, D]``: the normalised mean of the L2-normalised frame embeddings ``[B, T, D]``."""
    return F.normalize(F.normalize(frames, dim=-1).mean(dim=1), dim=-1)
