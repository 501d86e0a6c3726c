import copy

import pytest
import torch
import torch.nn.functional as F

from neuroflow.core.gate import GateConfig
from neuroflow.distill.evaluate import (
    DistillEvaluator,
    before_after,
    keep_probes,
    path_names,
    summary_rows,
)
from neuroflow.eval.zeroshot import ZeroShotClassifier

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def clips(frames):
    """Four clips [4, 6, 3, 32, 32]: the moving block at different phases."""
    return torch.stack([frames[i : i + 6] for i in range(4)])


def _classifier(width: int, classes: int = 3) -> ZeroShotClassifier:
    weights = F.normalize(
        torch.randn(classes, width, generator=torch.Generator().manual_seed(0)), dim=-1
    )
    return ZeroShotClassifier(weights, tuple(f"c{i}" for i in range(classes)), 10.0, 0.0)


def _rows(tower, student, clips, probes):
    evaluator = DistillEvaluator(_classifier(tower.hidden_size), probes)
    evaluator.update(tower, student, clips[:2], torch.tensor([0, 1]))
    evaluator.update(tower, student, clips[2:], torch.tensor([2, 0]))
    return evaluator.tensors()


def test_probes_are_the_operating_point_and_budget_keeps():
    probes = keep_probes(GateConfig(threshold=0.3, floor_tokens=2), [0.1, 0.5])
    assert path_names(probes) == ["dense", "operating point", "k=0.10", "k=0.50"]
    assert probes[0].gate.mode == "threshold"
    assert probes[2].gate.mode == "budget" and probes[2].gate.keep_fraction == 0.5
    assert probes[2].gate.floor_tokens == 2


def test_an_unchanged_student_matches_the_original_on_every_path(tower, clips):
    probes = keep_probes(GateConfig(threshold=0.1, floor_tokens=2), [0.25])
    per_clip = _rows(tower, copy.deepcopy(tower), clips, probes)
    rows = {(r["model"], r["path"]): r for r in summary_rows(per_clip)}
    assert len(rows) == 2 * 3 and all(r["clips"] == 4 for r in rows.values())
    for path in path_names(probes):
        original, student = rows[("original", path)], rows[("student", path)]
        assert student["top1"] == original["top1"]
        assert student["fidelity_original"] == pytest.approx(
            original["fidelity_original"], abs=1e-6
        )
    assert rows[("original", "dense")]["fidelity_original"] == pytest.approx(1.0, abs=1e-6)
    assert rows[("original", "dense")]["keep_fraction"] == 1.0
    # budget probe: ceil(0.25 * 64) = 16 patches after the dense first frame
    assert rows[("original", "k=0.25")]["keep_fraction"] == pytest.approx((1 + 5 * 0.25) / 6)
    diffs = before_after(per_clip)
    assert set(diffs) == set(path_names(probes))
    assert all(v["difference"]["diff"] == 0.0 for v in diffs.values())


def test_a_changed_student_is_measured_against_both_references(tower, clips):
    student = copy.deepcopy(tower)
    with torch.no_grad():
        student.hf.head.probe.add_(torch.randn_like(student.hf.head.probe))
    probes = keep_probes(GateConfig(threshold=0.1, floor_tokens=2), [])
    rows = {(r["model"], r["path"]): r for r in summary_rows(_rows(tower, student, clips, probes))}
    dense = rows[("student", "dense")]
    assert dense["fidelity_dense"] == pytest.approx(1.0, abs=1e-6)  # itself
    assert dense["fidelity_original"] < 0.999  # the original's dense output moved
    sparse = rows[("student", "operating point")]
    assert sparse["fidelity_dense"] != pytest.approx(sparse["fidelity_original"], abs=1e-4)


def test_a_clip_served_twice_counts_once(tower, clips):
    from neuroflow.distill.evaluate import unique_clips

    evaluator = DistillEvaluator(_classifier(tower.hidden_size), [])
    evaluator.update(tower, tower, clips[:2], torch.tensor([0, 1]), ["a", "b"])
    evaluator.update(tower, tower, clips[1:3], torch.tensor([1, 2]), ["b", "c"])  # "b" again
    per_clip = unique_clips(evaluator.tensors())
    assert all(len(v["hit"]) == 3 for v in per_clip.values())
    assert summary_rows(per_clip)[0]["clips"] == 3


def test_the_originals_runs_of_a_batch_are_computed_once(tower, clips):
    student = copy.deepcopy(tower)
    probes = keep_probes(GateConfig(threshold=0.1, floor_tokens=2), [0.25])
    evaluator = DistillEvaluator(_classifier(tower.hidden_size), probes)
    calls, runs = [], evaluator._runs
    evaluator._runs = lambda t, c: calls.append(t) or runs(t, c)
    for _ in range(2):  # two validations of the same batch
        evaluator.reset()
        evaluator.update(tower, student, clips[:2], torch.tensor([0, 1]), cache_key=("val", 0))
    assert [t is tower for t in calls] == [True, False, False]
    uncached = DistillEvaluator(_classifier(tower.hidden_size), probes)
    uncached.update(tower, student, clips[:2], torch.tensor([0, 1]))
    cached, fresh = evaluator.tensors(), uncached.tensors()
    assert list(cached) == list(fresh)
    assert all(torch.equal(cached[k][f], fresh[k][f]) for k in fresh for f in fresh[k])
