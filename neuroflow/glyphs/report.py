"""Evaluate a model on the moving-glyphs benchmark and write a results JSON.

For every benchmark variant: dense accuracy (per frame, first frame alone, last frame,
clip), then Arch C and random keep (Arch C's encoder and cache with a random-keep gate)
at matched keep fractions, with the paired difference, its bootstrap interval and
McNemar's test, per variant and pooled over variants. Run it as::

    python -m neuroflow.glyphs.report --out experiments/mini_siglip/results.json
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from neuroflow.archs import make_arch
from neuroflow.baselines.random_keep import random_keep_arch
from neuroflow.eval.zeroshot import ZeroShotClassifier, build_classifier
from neuroflow.glyphs.benchmark import (
    ClipRun,
    clip_correct,
    dense_accuracy,
    fidelity,
    keep_stats,
    run_clips,
)
from neuroflow.glyphs.calibrate import calibrate_threshold
from neuroflow.glyphs.clips import ClipSet, ClipSpec, make_clips
from neuroflow.glyphs.io import SHIPPED_DIR, load_mini_siglip
from neuroflow.glyphs.render import CLASS_NAMES
from neuroflow.glyphs.stats import paired_comparison, wilson
from neuroflow.glyphs.summary import summary_table
from neuroflow.glyphs.text import TEMPLATES
from neuroflow.glyphs.zeroshot_images import pixel_stats
from neuroflow.models import wrap_tower

VARIANTS: dict[str, dict] = {
    "moving": {},
    "pan": {"pan": 0.5},
    "distractor": {"distractors": 2},
    "change": {"change": True},
}
KEEP_FRACTIONS = (0.1, 0.2, 0.35)
GATE_MODES = ("budget", "threshold")
TEST_SEED = 0  # the deterministic test set
CALIBRATION_SEED = 1  # threshold calibration clips (training backgrounds)


class Evaluator:
    """Runs the architectures of one model over clip sets.

    Args:
        model: HF image-text model.
        processor: Its processor.
        ema_decay: Gate EMA decay of Arch C.
        gate_mode: ``"budget"`` (top-k surprise, exactly ``k`` per frame) or
            ``"threshold"`` (the paper's gate, threshold calibrated to ``k`` on the
            variant's calibration clips; random keep then matches its count frame by frame).
        batch: Clips per batch of streams.
    """

    def __init__(
        self,
        model: nn.Module,
        processor: object,
        ema_decay: float = 0.1,
        gate_mode: str = "budget",
        batch: int = 128,
    ) -> None:
        if gate_mode not in GATE_MODES:
            raise ValueError(f"gate_mode must be 'budget' or 'threshold', got {gate_mode!r}")
        self.model, self.tower = model, wrap_tower(model)
        self.stats = pixel_stats(processor)
        self.classifier: ZeroShotClassifier = build_classifier(
            model, processor, CLASS_NAMES, TEMPLATES
        )
        self.ema_decay, self.gate_mode, self.batch = ema_decay, gate_mode, batch

    def run(self, arch: nn.Module, clips: ClipSet, counts: torch.Tensor | None = None) -> ClipRun:
        """Frame embeddings and keep masks of ``arch`` on ``clips``."""
        return run_clips(arch, self.model, clips, self.stats, self.batch, counts)

    def arch_c(self, keep: float, calibration: ClipSet) -> tuple[nn.Module, float | None]:
        """Arch C at keep fraction ``keep`` and its threshold (None in budget mode)."""
        if self.gate_mode == "budget":
            arch = make_arch(
                "C", self.tower, mode="budget", keep_fraction=keep, ema_decay=self.ema_decay
            )
            return arch, None
        theta = calibrate_threshold(self.tower, calibration, keep, self.ema_decay, self.stats)
        return make_arch("C", self.tower, threshold=theta, ema_decay=self.ema_decay), theta

    def variant(
        self, clips: ClipSet, keeps: Sequence[float], calibration: ClipSet, with_random: bool = True
    ) -> dict:
        """Dense and matched Arch C / random-keep results on one clip set."""
        labels = clips.labels
        dense = self.run(make_arch("dense", self.tower), clips)
        motion = clips.patch_motion(self.tower.patch_size)
        hits = {"dense": clip_correct(self.classifier, dense, labels)}
        result = {"n": len(clips), "dense": dense_accuracy(self.classifier, dense, labels)}
        result["rows"], result["hits"] = [], hits
        for keep in keeps:
            arch, theta = self.arch_c(keep, calibration)
            runs = {"arch_c": self.run(arch, clips)}
            if with_random:
                counts = runs["arch_c"].keep.sum(-1) if theta is not None else None
                rand = random_keep_arch("C", self.tower, keep, seed=0, floor_tokens=4)
                runs["random"] = self.run(rand, clips, counts)
            row: dict = {"keep_target": keep, "threshold": theta}
            for name, run in runs.items():
                hits[f"{name}@{keep}"] = h = clip_correct(self.classifier, run, labels)
                row[name] = {
                    "clip_acc": float(h.mean()),
                    "clip_acc_ci95": wilson(h),
                    **fidelity(run, dense),
                    **keep_stats(run, motion),
                }
            if with_random:
                row["paired"] = paired_comparison(hits[f"arch_c@{keep}"], hits[f"random@{keep}"])
            result["rows"].append(row)
        return result


def clip_set(name: str, count: int, frames: int, calibration: bool = False) -> ClipSet:
    """Test clips of a variant, or its calibration clips (training backgrounds, own seed)."""
    spec = ClipSpec(frames=frames, **VARIANTS[name])
    if calibration:
        return make_clips(count, spec, seed=CALIBRATION_SEED, split="train")
    return make_clips(count, spec, seed=TEST_SEED)


def pooled(results: dict[str, dict], keeps: Sequence[float]) -> list[dict]:
    """Paired Arch C vs random comparison over the clips of every variant together."""
    rows = []
    for keep in keeps:
        c = np.concatenate([r["hits"][f"arch_c@{keep}"] for r in results.values()])
        r = np.concatenate([r["hits"][f"random@{keep}"] for r in results.values()])
        d = np.concatenate([r_["hits"]["dense"] for r_ in results.values()])
        rows.append(
            {
                "keep_target": keep,
                "dense_clip_acc": float(d.mean()),
                "arch_c_clip_acc": float(c.mean()),
                "random_clip_acc": float(r.mean()),
                "paired": paired_comparison(c, r),
            }
        )
    return rows


def select_ema_decay(
    model: nn.Module,
    processor: object,
    candidates: Sequence[float],
    variants: Sequence[str],
    keeps: Sequence[float],
    frames: int,
    count: int = 100,
) -> tuple[float, dict[str, float]]:
    """The EMA decay with the best mean Arch C clip accuracy on calibration clips.

    Selection never sees the test clips: it uses each variant's calibration clips.
    """
    scores = {}
    for decay in candidates:
        ev = Evaluator(model, processor, decay, "budget")
        accs = []
        for name in variants:
            calib = clip_set(name, count, frames, calibration=True)
            rows = ev.variant(calib, keeps, calib, with_random=False)["rows"]
            accs += [row["arch_c"]["clip_acc"] for row in rows]
        scores[str(decay)] = float(np.mean(accs))
    best = max(candidates, key=lambda d: scores[str(d)])
    return best, scores


def evaluate(
    model_dir: str | Path = SHIPPED_DIR,
    clips_per_variant: int = 300,
    variants: Sequence[str] = tuple(VARIANTS),
    keeps: Sequence[float] = KEEP_FRACTIONS,
    ema_decays: Sequence[float] = (0.1,),
    gate_modes: Sequence[str] = ("budget",),
    frames: int = 16,
    batch: int = 128,
) -> dict:
    """The full benchmark report (JSON-ready, per-clip hits dropped).

    With several ``ema_decays`` the decay is first selected on calibration clips.
    """
    model, processor = load_mini_siglip(model_dir)
    start = time.perf_counter()
    report: dict = {
        "model": str(model_dir),
        "frames": frames,
        "test_seed": TEST_SEED,
        "calibration_seed": CALIBRATION_SEED,
        "clips_per_variant": clips_per_variant,
        "variants": {k: dict(VARIANTS[k]) for k in variants},
        "modes": {},
    }
    with torch.inference_mode():
        decay, scores = ema_decays[0], None
        if len(ema_decays) > 1:
            decay, scores = select_ema_decay(model, processor, ema_decays, variants, keeps, frames)
        report["ema_decay"], report["ema_selection"] = decay, scores
        for mode in gate_modes:
            ev = Evaluator(model, processor, decay, mode, batch)
            results = {
                name: ev.variant(
                    clip_set(name, clips_per_variant, frames),
                    keeps,
                    clip_set(name, 64, frames, calibration=True),
                )
                for name in variants
            }
            report["modes"][mode] = {
                "results": {k: {kk: v[kk] for kk in v if kk != "hits"} for k, v in results.items()},
                "pooled": pooled(results, keeps),
            }
    report["seconds"] = round(time.perf_counter() - start, 1)
    return report


def main(argv: list[str] | None = None) -> int:
    """CLI: evaluate and write the report JSON."""
    parser = argparse.ArgumentParser(description="moving-glyphs benchmark report")
    parser.add_argument("--model", default=str(SHIPPED_DIR), help="mini SigLIP directory")
    parser.add_argument("--out", type=Path, required=True, help="results JSON to write")
    parser.add_argument("--clips", type=int, default=300, help="clips per variant")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--keeps", nargs="+", type=float, default=list(KEEP_FRACTIONS))
    parser.add_argument(
        "--ema-decay",
        nargs="+",
        type=float,
        default=[0.1],
        help="gate EMA decay; several values: select one on calibration clips",
    )
    parser.add_argument("--gate-mode", nargs="+", choices=GATE_MODES, default=["budget"])
    parser.add_argument("--frames", type=int, default=16, help="frames per clip")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    report = evaluate(
        args.model,
        args.clips,
        args.variants,
        args.keeps,
        args.ema_decay,
        args.gate_mode,
        args.frames,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(summary_table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
