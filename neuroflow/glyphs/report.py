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
TEST_SEED = 0  # the deterministic test set
CALIBRATION_SEED = 1  # threshold calibration clips (training backgrounds)


class Evaluator:
    """Runs the architectures of one model over clip sets.

    Args:
        model: HF image-text model.
        processor: Its processor.
        ema_decay: Gate EMA decay of Arch C.
        gate_mode: ``"budget"`` (top-k surprise, exactly ``k`` per frame) or
            ``"threshold"`` (the paper's gate, threshold calibrated to ``k`` on separate
            clips; random keep then matches its count frame by frame).
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
        if gate_mode not in ("budget", "threshold"):
            raise ValueError(f"gate_mode must be 'budget' or 'threshold', got {gate_mode!r}")
        self.model, self.tower = model, wrap_tower(model)
        self.stats = pixel_stats(processor)
        self.classifier: ZeroShotClassifier = build_classifier(
            model, processor, CLASS_NAMES, TEMPLATES
        )
        self.ema_decay, self.gate_mode, self.batch = ema_decay, gate_mode, batch
        self.thresholds: dict[float, float] = {}

    def run(self, arch: nn.Module, clips: ClipSet, counts: torch.Tensor | None = None) -> ClipRun:
        """Frame embeddings and keep masks of ``arch`` on ``clips``."""
        return run_clips(arch, self.model, clips, self.stats, self.batch, counts)

    def arch_c(self, keep: float, calibration: ClipSet) -> nn.Module:
        """Arch C at keep fraction ``keep`` (threshold calibrated once per fraction)."""
        if self.gate_mode == "budget":
            return make_arch(
                "C", self.tower, mode="budget", keep_fraction=keep, ema_decay=self.ema_decay
            )
        if keep not in self.thresholds:
            self.thresholds[keep] = calibrate_threshold(
                self.tower, calibration, keep, self.ema_decay, self.stats
            )
        return make_arch("C", self.tower, threshold=self.thresholds[keep], ema_decay=self.ema_decay)

    def variant(self, clips: ClipSet, keeps: Sequence[float], calibration: ClipSet) -> dict:
        """Dense and matched Arch C / random-keep results on one clip set."""
        labels = clips.labels
        dense = self.run(make_arch("dense", self.tower), clips)
        motion = clips.patch_motion(self.tower.patch_size)
        result = {
            "n": len(clips),
            "dense": dense_accuracy(self.classifier, dense, labels),
            "hits": {"dense": clip_correct(self.classifier, dense, labels)},
            "rows": [],
        }
        for keep in keeps:
            c_run = self.run(self.arch_c(keep, calibration), clips)
            counts = c_run.keep.sum(-1) if self.gate_mode == "threshold" else None
            r_run = self.run(
                random_keep_arch("C", self.tower, keep, seed=0, floor_tokens=4), clips, counts
            )
            row: dict = {"keep_target": keep}
            for name, run in (("arch_c", c_run), ("random", r_run)):
                hits = clip_correct(self.classifier, run, labels)
                result["hits"][f"{name}@{keep}"] = hits
                row[name] = {
                    "clip_acc": float(hits.mean()),
                    "clip_acc_ci95": wilson(hits),
                    **fidelity(run, dense),
                    **keep_stats(run, motion),
                }
            row["paired"] = paired_comparison(
                result["hits"][f"arch_c@{keep}"], result["hits"][f"random@{keep}"]
            )
            if keep in self.thresholds:
                row["threshold"] = self.thresholds[keep]
            result["rows"].append(row)
        return result


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


def evaluate(
    model_dir: str | Path = SHIPPED_DIR,
    clips_per_variant: int = 300,
    variants: Sequence[str] = tuple(VARIANTS),
    keeps: Sequence[float] = KEEP_FRACTIONS,
    ema_decay: float = 0.1,
    gate_mode: str = "budget",
    frames: int = 16,
    batch: int = 128,
) -> dict:
    """The full benchmark report (JSON-ready, per-clip hits dropped)."""
    model, processor = load_mini_siglip(model_dir)
    ev = Evaluator(model, processor, ema_decay, gate_mode, batch)
    calibration = make_clips(64, ClipSpec(frames=frames), seed=CALIBRATION_SEED, split="train")
    start, results = time.perf_counter(), {}
    with torch.inference_mode():
        for name in variants:
            clips = make_clips(
                clips_per_variant, ClipSpec(frames=frames, **VARIANTS[name]), seed=TEST_SEED
            )
            results[name] = ev.variant(clips, keeps, calibration)
    report = {
        "model": str(model_dir),
        "gate_mode": gate_mode,
        "ema_decay": ema_decay,
        "frames": frames,
        "clips_per_variant": clips_per_variant,
        "test_seed": TEST_SEED,
        "variants": {k: {**VARIANTS[k]} for k in variants},
        "results": {
            k: {kk: vv for kk, vv in v.items() if kk != "hits"} for k, v in results.items()
        },
        "pooled": pooled(results, keeps),
        "seconds": round(time.perf_counter() - start, 1),
    }
    return report


def main(argv: list[str] | None = None) -> int:
    """CLI: evaluate and write the report JSON."""
    parser = argparse.ArgumentParser(description="moving-glyphs benchmark report")
    parser.add_argument("--model", default=str(SHIPPED_DIR), help="mini SigLIP directory")
    parser.add_argument("--out", type=Path, required=True, help="results JSON to write")
    parser.add_argument("--clips", type=int, default=300, help="clips per variant")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--keeps", nargs="+", type=float, default=list(KEEP_FRACTIONS))
    parser.add_argument("--ema-decay", type=float, default=0.1)
    parser.add_argument("--gate-mode", choices=("budget", "threshold"), default="budget")
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
    print(json.dumps(report["pooled"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
