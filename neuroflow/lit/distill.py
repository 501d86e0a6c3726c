"""LightningModule of sparse manifold distillation: a sparse student learns from a dense teacher.

Each training batch is ``B`` clips, each its own stream from a reset state, with its own
gate setting drawn by the :class:`~neuroflow.distill.curriculum.Curriculum`. The frozen
teacher (eval mode, no grad) embeds every frame densely; the student runs the sparse
method (Arch B) frame by frame, first frame dense, and the loss compares the pooled
embeddings of every frame. The gate is not differentiable and its EMA is detached, so
there is no gradient across frames.

Validation and test run a :class:`~neuroflow.distill.evaluate.DistillEvaluator` (the
original and the student, dense and sparse at several keep fractions); its per-clip
records are gathered across processes before they are summarised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor

from neuroflow.archs import make_arch
from neuroflow.core.gate import GateConfig
from neuroflow.distill.curriculum import Curriculum
from neuroflow.distill.evaluate import DistillEvaluator, summary_rows, unique_clips
from neuroflow.distill.losses import DistillLoss
from neuroflow.distill.optim import OptimSettings, make_optimizer
from neuroflow.models.tower import VisionTower

Logits = Callable[[Tensor], Tensor]


class SparseDistillModule(pl.LightningModule):
    """Distil a dense teacher into a sparse student of the same model.

    Args:
        teacher: The original model's tower (frozen here).
        student: The tower to train, with its trainable parameters already chosen.
        gate: Base gate of the student (floor, signal, dense first frame); the curriculum
            sets mode, threshold, EMA decay and keep fraction per batch.
        curriculum: Per-clip gate settings.
        loss: Distillation loss.
        evaluator: Validation/test evaluator (original and student, dense and sparse).
        optim: Optimiser settings.
        method: Sparse method of the student (``"B"``).
        logits: Embeddings to zero-shot logits (for the KD term); None without it.
        identity: What checkpoints must match to be resumed (base model fingerprint,
            trainable spec); stored in every checkpoint.
        seed: Seed of the curriculum draws (with the global step and the process rank).
        cache_targets: Remember the teacher's embeddings per clip id (valid when a clip id
            always serves the same frames, as every neuroflow dataset does; turn it off for
            data with random augmentation).
    """

    def __init__(
        self,
        teacher: VisionTower,
        student: VisionTower,
        gate: GateConfig,
        curriculum: Curriculum,
        loss: DistillLoss,
        evaluator: DistillEvaluator,
        optim: OptimSettings | None = None,
        method: str = "B",
        logits: Logits | None = None,
        identity: dict[str, Any] | None = None,
        seed: int = 0,
        cache_targets: bool = True,
    ) -> None:
        super().__init__()
        self.teacher = teacher.eval().requires_grad_(False)
        self.student = student
        self.gate, self.curriculum, self.loss, self.method = gate, curriculum, loss, method
        self.evaluator, self.optim, self.logits = evaluator, optim or OptimSettings(), logits
        self.identity, self.seed = dict(identity or {}), int(seed)
        self.cache_targets = cache_targets
        self._target_cache: dict[str, Tensor] = {}
        self.validation: list[dict] = []  # summary rows of every validation, with the step
        self.test_records: dict | None = None

    def train(self, mode: bool = True) -> SparseDistillModule:
        super().train(mode)
        self.teacher.eval()  # the teacher never leaves eval mode
        return self

    # --- training -------------------------------------------------------------------
    def _generator(self, purpose: int) -> torch.Generator:
        # A function of (seed, step, rank, purpose): a resumed run draws what the first run
        # would have, and the curriculum and the dense frames draw independent numbers.
        key = ((self.seed * 1_000_003 + self.global_step) * 1_009 + self.global_rank) * 7 + purpose
        return torch.Generator().manual_seed(key)

    def _targets(self, batch: dict) -> Tensor:
        """``[B, T, D]`` teacher embeddings of the batch, remembered per clip id when
        ``cache_targets`` (the teacher is frozen: every epoch would compute them again)."""
        frames: Tensor = batch["frames"]
        b, t = frames.shape[:2]
        ids = list(batch.get("clip_id") or [])
        if self.cache_targets and ids and all(i in self._target_cache for i in ids):
            return torch.stack([self._target_cache[i] for i in ids]).to(frames.device)
        with torch.no_grad():
            target = self.teacher(frames.flatten(0, 1)).view(b, t, -1)
        if self.cache_targets:
            self._target_cache.update(zip(ids, target.cpu(), strict=True))
        return target

    def _sparse(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        """The student's sparse embeddings ``[B, T, D]`` at this batch's curriculum draw, and
        its mean keep fraction after the dense first frame."""
        b, t = frames.shape[:2]
        draw = self.curriculum.draw(b, self._generator(0))
        gate = self.curriculum.gate_config(self.gate, draw)
        arch = make_arch(self.method, self.student, gate=gate)
        state = arch.new_state(b)
        state.gate.set_threshold(draw.threshold)
        state.gate.set_ema_decay(draw.ema_decay)
        outputs = [arch(frames[:, i], state) for i in range(t)]
        keep = torch.stack([o.keep_fraction for o in outputs[1:]]).float().mean()
        return torch.stack([o.embedding for o in outputs], dim=1), keep

    def _dense_loss(self, frames: Tensor, target: Tensor) -> Tensor:
        """The loss of the student's dense pass on ``loss.dense_frames`` random frames per
        clip (all frames when 0)."""
        b, t = frames.shape[:2]
        count = self.loss.dense_frames or t
        pick = torch.rand(b, t, generator=self._generator(1)).argsort(dim=1)[:, :count]
        rows = torch.arange(b)[:, None]
        picked = frames[rows, pick.to(frames.device)]
        dense = self.student(picked.flatten(0, 1)).view(b, count, -1)
        return self.loss(dense, target[rows, pick.to(target.device)], self.logits)["loss"]

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        frames: Tensor = batch["frames"]
        target = self._targets(batch)
        student, keep = self._sparse(frames)
        terms = self.loss(student, target, self.logits)
        if self.loss.dense:
            terms["dense"] = self._dense_loss(frames, target)
            terms["loss"] = terms["loss"] + self.loss.dense * terms["dense"]
        b = frames.shape[0]
        logged = {f"train/{k}": v.detach() for k, v in terms.items()}
        self.log_dict(logged, batch_size=b, sync_dist=True)
        self.log("train/keep_fraction", keep, batch_size=b, sync_dist=True)
        self.log("loss", terms["loss"].detach(), batch_size=b, prog_bar=True, logger=False)
        return terms["loss"]

    def configure_optimizers(self) -> dict:
        total = int(self.trainer.estimated_stepping_batches)
        optimizer, scheduler = make_optimizer(self.student, self.optim, total)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    # --- validation and test --------------------------------------------------------
    def _evaluate(self, batch: dict, key: tuple[str, int]) -> None:
        if batch["frames"].numel():
            self.evaluator.update(
                self.teacher,
                self.student,
                batch["frames"],
                batch["label"],
                batch.get("clip_id"),
                cache_key=key,  # the same batch each validation: the original's runs reused
            )

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, ("val", batch_idx))

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, ("test", batch_idx))

    def on_validation_epoch_start(self) -> None:
        self.evaluator.reset()

    def on_test_epoch_start(self) -> None:
        self.evaluator.reset()

    def _gathered(self) -> dict:
        """Per-clip records of every process (DDP), each clip once."""
        out = {}
        for key, fields in self.evaluator.tensors().items():
            out[key] = {
                f: self.all_gather(v.to(self.device)).reshape(-1).cpu() for f, v in fields.items()
            }
        return unique_clips(out)

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking or not self.evaluator.records:
            return
        rows = summary_rows(self._gathered())
        self.validation.append({"step": int(self.global_step), "rows": rows})
        for row in rows:
            name = f"val/{row['model']}/{row['path']}".replace(" ", "_")
            self.log(f"{name}/top1", row["top1"], rank_zero_only=True)
            self.log(f"{name}/fidelity", row["fidelity_original"], rank_zero_only=True)
        student_op = next(r for r in rows if r["model"] == "student" and r["path"] != "dense")
        self.log("val_top1", student_op["top1"], prog_bar=True, rank_zero_only=True)

    def on_test_epoch_end(self) -> None:
        if self.evaluator.records:
            self.test_records = self._gathered()

    # --- checkpoints ----------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # The teacher is the base model itself: storing it again would double every file.
        state = checkpoint["state_dict"]
        for key in [k for k in state if k.startswith("teacher.")]:
            del state[key]
        checkpoint["neuroflow"] = {**self.identity, "validation": self.validation}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        stored = checkpoint.get("neuroflow")
        if stored is None:
            raise ValueError("this checkpoint was not written by neuroflow-distill")
        for key in ("base", "trainable", "method"):
            if key in self.identity and stored.get(key) != self.identity[key]:
                raise ValueError(
                    f"checkpoint {key} {stored.get(key)} does not match this run's "
                    f"{self.identity[key]}: resume with the model and settings it was trained with"
                )
        self.validation = list(stored.get("validation", []))
        teacher = {f"teacher.{k}": v for k, v in self.teacher.state_dict().items()}
        checkpoint["state_dict"].update(teacher)


def trainable_identity(spec: Any) -> dict:
    """A JSON-able view of a trainable spec (dataclass) for checkpoints and results."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(spec).items()}
