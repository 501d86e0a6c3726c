"""The distillation LightningModule on the tiny tower: it trains what it should, nothing else."""

import copy

import lightning.pytorch as pl
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from neuroflow.archs import make_arch
from neuroflow.core.gate import GateConfig
from neuroflow.data.dataset import collate_clips
from neuroflow.distill.curriculum import Curriculum
from neuroflow.distill.evaluate import DistillEvaluator, keep_probes
from neuroflow.distill.losses import DistillLoss
from neuroflow.distill.optim import OptimSettings
from neuroflow.distill.trainable import TrainableSpec, apply_trainable
from neuroflow.eval.zeroshot import ZeroShotClassifier
from neuroflow.lit.distill import SparseDistillModule

pytestmark = pytest.mark.usefixtures("one_thread")

GATE = GateConfig(threshold=0.2, ema_decay=0.05, floor_tokens=2)


@pytest.fixture
def clips(frames):
    """Four clips of 6 frames of the moving block, as dataset items."""
    return [{"frames": frames[i : i + 6], "label": i % 2, "clip_id": f"c{i}"} for i in range(4)]


def _module(teacher, spec, lr=3e-2):
    student = copy.deepcopy(teacher)
    apply_trainable(student, spec)
    weights = F.normalize(torch.randn(2, teacher.hidden_size), dim=-1)
    evaluator = DistillEvaluator(ZeroShotClassifier(weights, ("a", "b")), keep_probes(GATE, []))
    module = SparseDistillModule(
        teacher,
        student,
        GATE,
        Curriculum(threshold=(0.1, 0.3)),
        DistillLoss(cosine=1.0, mse=1.0, dense=0.5, dense_frames=2, clip=0.5),
        evaluator,
        OptimSettings(lr=lr, warmup_steps=0),
        identity={"base": {"weights": "x"}, "trainable": {"what": spec.what}, "method": "B"},
    )
    return module, student


def _sparse_loss(teacher, student, clips) -> float:
    frames = torch.stack([c["frames"] for c in clips])
    arch, dense = make_arch("B", student, gate=GATE), make_arch("dense", teacher)
    s_state, d_state = arch.new_state(len(clips)), dense.new_state(len(clips))
    with torch.no_grad():
        outs = [(arch(frames[:, t], s_state), dense(frames[:, t], d_state)) for t in range(6)]
    return float(sum(1 - F.cosine_similarity(s.embedding, d.embedding).mean() for s, d in outs))


def _fit(module, clips, steps):
    loader = DataLoader(clips, batch_size=2, collate_fn=collate_clips)
    trainer = pl.Trainer(
        max_steps=steps,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, train_dataloaders=loader)


def test_training_moves_the_sparse_student_toward_the_teacher_and_nothing_else(tower, clips):
    module, student = _module(tower, TrainableSpec(what="head"))
    frozen = {n: p.clone() for n, p in student.named_parameters() if not p.requires_grad}
    teacher = {n: p.clone() for n, p in tower.named_parameters()}
    before = _sparse_loss(tower, student, clips)
    _fit(module, clips, steps=12)
    after = _sparse_loss(tower, student, clips)
    assert after < 0.8 * before, (before, after)
    assert all(torch.equal(p, teacher[n]) for n, p in tower.named_parameters())
    assert all(torch.equal(p, frozen[n]) for n, p in student.named_parameters() if n in frozen)
    assert not tower.training and not any(p.requires_grad for p in tower.parameters())


def test_checkpoints_leave_the_teacher_out_and_refuse_another_base(tower):
    module, _ = _module(tower, TrainableSpec(what="head"))
    checkpoint = {"state_dict": module.state_dict()}
    module.on_save_checkpoint(checkpoint)
    assert checkpoint["state_dict"] and not any(
        k.startswith("teacher.") for k in checkpoint["state_dict"]
    )
    module.on_load_checkpoint(checkpoint)  # the same identity: teacher keys restored for loading
    assert any(k.startswith("teacher.") for k in checkpoint["state_dict"])
    checkpoint["neuroflow"]["base"] = {"weights": "another model"}
    with pytest.raises(ValueError, match="checkpoint base"):
        module.on_load_checkpoint(checkpoint)
    with pytest.raises(ValueError, match="not written by neuroflow-distill"):
        module.on_load_checkpoint({"state_dict": {}})


def test_teacher_targets_are_computed_once_per_clip(tower, clips):
    module, _ = _module(tower, TrainableSpec(what="head"))
    batch = collate_clips(clips[:2])
    calls, forward = [], tower.forward
    tower.forward = lambda x: calls.append(x.shape[0]) or forward(x)
    first, second = module._targets(batch), module._targets(batch)
    assert calls == [2 * 6] and torch.equal(first, second)
    module.cache_targets = False
    module._targets(batch)
    assert len(calls) == 2
