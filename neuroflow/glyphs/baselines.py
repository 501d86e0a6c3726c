"""Accuracy vs keep fraction of Arch C and every baseline on the moving-glyphs benchmark.

For each clip variant (default: the moving-glyph clips and the digit-change clips) and each
keep fraction ``k``, every method runs at matched ``k`` (:mod:`neuroflow.glyphs.matched`) on
the same test clips with the project-trained mini SigLIP. A row holds the method's clip
top-1 with its Wilson interval, its retention against dense, its fidelity to dense, the keep
fraction it actually reached, the FLOPs it spent per frame, and the paired difference of its
per-clip hits to Arch C's at the same ``k`` (bootstrap 95% interval, McNemar's test).
With ``calibrate`` a row also holds its accuracy after a per-class logit bias
(:mod:`neuroflow.eval.calibration`) fitted on the calibration clips run through the same
method, never on the test clips; its retention is against the uncalibrated dense accuracy.

Rows are appended to ``rows.jsonl`` as they finish, so an interrupted run resumes where it
stopped (same settings; anything else is refused). ``neuroflow-baselines`` is the command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from neuroflow.archs import Architecture, make_arch
from neuroflow.eval.calibration import apply_logit_bias, fit_logit_bias
from neuroflow.eval.stats import paired_comparison, wilson_interval
from neuroflow.eval.zeroshot import clip_logits
from neuroflow.glyphs.benchmark import ClipRun, Evaluator, clip_correct, fidelity
from neuroflow.glyphs.clips import ClipSet
from neuroflow.glyphs.dataset import to_pixels
from neuroflow.glyphs.matched import Matched, build_matched, frame_flops
from neuroflow.glyphs.report import bits, clip_set, from_bits
from neuroflow.results import RowLog

METHODS = (
    "C",
    "random_C",
    "grid_C",
    "pixel_C",
    "frame_reuse",
    "eventful",
    "tome",
    "tome_paper",
    "gate_tome",
    "token_drop",
)
VARIANTS = ("moving", "change")
KEEPS = (0.1, 0.2, 0.35, 0.5)
REFERENCE = "C"  # every row's paired difference is taken against Arch C at the same k
FLOP_CLIPS = 128  # clips whose frames are FLOP-counted per method (data-dependent methods vary)


@dataclass(frozen=True)
class CompareSettings:
    """What a comparison run evaluates (its identity: a resumed run must match it).

    Attributes:
        methods: Registered methods besides dense (Arch C is always included).
        variants: Moving-glyph clip variants (:data:`neuroflow.glyphs.report.VARIANTS`).
        keeps: Target keep fractions.
        clips: Test clips per variant.
        calibration_clips: Clips per variant for calibrated settings and the logit bias
            (training backgrounds).
        frames: Frames per clip.
        ema_decay: EMA decay of every gate that keeps an EMA.
        batch: Clips streamed side by side.
        seed: Seed of stochastic selections.
        calibrate: Also report every method's accuracy after a per-class logit bias fitted
            on its own run over the calibration clips.
    """

    methods: tuple[str, ...] = METHODS
    variants: tuple[str, ...] = VARIANTS
    keeps: tuple[float, ...] = KEEPS
    clips: int = 300
    calibration_clips: int = 64
    frames: int = 16
    ema_decay: float = 0.3
    batch: int = 128
    seed: int = 0
    calibrate: bool = False

    def ordered_methods(self) -> list[str]:
        """Arch C first (the reference of every paired difference), then the rest."""
        return [REFERENCE] + [m for m in dict.fromkeys(self.methods) if m != REFERENCE]


class RowStore(RowLog):
    """Finished rows on disk (``rows.jsonl``), keyed by variant, keep and method."""

    def __init__(self, path: Path, settings: CompareSettings) -> None:
        super().__init__(path, asdict(settings), ("variant", "keep_target", "method"))


def method_row(
    ev: Evaluator,
    clips: ClipSet,
    matched: Matched,
    dense: ClipRun,
    dense_hits: np.ndarray,
    dense_flops: float,
    calib: ClipSet | None = None,
) -> dict:
    """Accuracy, keep, fidelity and FLOPs of one matched method on one clip set.

    With ``calib`` (the calibration clips) the row also holds the ``calibrated_*`` fields
    (:func:`calibrated_fields`).
    """
    row: dict = {"method": matched.name, "settings": matched.settings}
    row["calibration_keep"] = matched.calibration_keep
    if matched.arch is None:
        return {**row, "status": "unreachable", "reason": matched.unreachable}
    run = ev.run(matched.arch, clips)
    hits = clip_correct(ev.classifier, run, clips.labels)
    flops = frame_flops(matched.arch, to_pixels(clips.frames[:FLOP_CLIPS], *ev.stats))
    dense_acc = float(dense_hits.mean())
    row = {
        **row,
        "status": "ok",
        "keep": float(run.keep_fraction[:, 1:].mean()),
        **accuracy_fields(hits, dense_acc),
        **fidelity(run, dense),
        "flops_per_frame": flops,
        "flops_vs_dense": flops / dense_flops,
        "hits": bits(hits),
    }
    if calib is not None:
        row |= calibrated_fields(ev, matched.arch, run, clips, calib, dense_acc)
    return row


def accuracy_fields(
    hits: np.ndarray, dense_acc: float, acc_key: str = "clip_acc", retention_key: str = "retention"
) -> dict:
    """Clip top-1 of ``hits``, its Wilson interval (``{acc_key}_ci95``) and its retention."""
    acc = float(hits.mean())
    return {
        acc_key: acc,
        f"{acc_key}_ci95": list(wilson_interval(int(hits.sum()), hits.size)),
        retention_key: acc / dense_acc if dense_acc > 0 else float("nan"),
    }


def calibrated_fields(
    ev: Evaluator,
    arch: Architecture,
    run: ClipRun,
    clips: ClipSet,
    calib: ClipSet,
    dense_acc: float,
) -> dict:
    """Test accuracy of ``run`` (``arch`` on ``clips``) after a per-class logit bias.

    The bias is fitted on ``arch``'s run over the calibration clips ``calib``, so it
    corrects the shift this method gives the zero-shot logits without seeing a test clip.
    Retention is against the uncalibrated dense accuracy ``dense_acc`` (dense is the
    reference).
    """
    calib_run = ev.run(arch, calib)
    labels = torch.as_tensor(calib.labels)
    bias = fit_logit_bias(clip_logits(ev.classifier, calib_run.embeds), labels)
    logits = apply_logit_bias(clip_logits(ev.classifier, run.embeds), bias)
    hits = (logits.argmax(-1) == torch.as_tensor(clips.labels)).numpy()
    fields = accuracy_fields(hits, dense_acc, "calibrated_acc", "calibrated_retention")
    return {**fields, "calibrated_hits": bits(hits)}


def with_pairing(row: dict, reference: dict | None) -> dict:
    """Add the paired difference of ``row``'s hits to the reference row's (Arch C)."""
    if row["status"] != "ok" or reference is None or reference["status"] != "ok":
        return row
    pair = paired_comparison(from_bits(row["hits"]), from_bits(reference["hits"]))
    return {**row, "vs_c": {k: pair[k] for k in ("diff", "ci95", "mcnemar_p", "separated")}}


def compare_variant(
    ev: Evaluator,
    variant: str,
    settings: CompareSettings,
    store: RowStore,
    advance: Callable[[str], None] = lambda _: None,
) -> list[dict]:
    """Dense, then every method at every keep fraction, on one clip variant."""
    clips = clip_set(variant, settings.clips, settings.frames)
    calib = clip_set(variant, settings.calibration_clips, settings.frames, calibration=True)
    dense_arch = make_arch("dense", ev.tower)
    dense = ev.run(dense_arch, clips)
    dense_hits = clip_correct(ev.classifier, dense, clips.labels)
    dense_flops = frame_flops(dense_arch, to_pixels(clips.frames[:FLOP_CLIPS], *ev.stats))
    bias_clips = calib if settings.calibrate else None  # clips the logit bias is fitted on
    calibrated = {}
    if bias_clips is not None:
        dense_acc = float(dense_hits.mean())
        calibrated = calibrated_fields(ev, dense_arch, dense, clips, bias_clips, dense_acc)
    rows = [_dense_row(variant, dense_hits, dense_flops, store, calibrated)]

    def calibration_keep(arch: Architecture) -> float:
        return float(ev.run(arch, calib).keep_fraction[:, 1:].mean())

    for keep in settings.keeps:
        for name in settings.ordered_methods():
            row = store.get(variant, keep, name)
            advance(f"{variant} k={keep} {name}" + (" (resumed)" if row else ""))
            if row is None:
                matched = build_matched(
                    name, ev.tower, keep, ev.gate, calibration_keep, settings.seed
                )
                found = method_row(ev, clips, matched, dense, dense_hits, dense_flops, bias_clips)
                ref = store.get(variant, keep, REFERENCE)
                found = {"variant": variant, "keep_target": keep, **found}
                row = store.add(with_pairing(found, ref))
            rows.append(row)
    return rows


def _dense_row(
    variant: str, hits: np.ndarray, flops: float, store: RowStore, calibrated: dict
) -> dict:
    row = store.get(variant, None, "dense")
    if row is not None:
        return row
    acc = float(hits.mean())
    return store.add(
        {
            "variant": variant,
            "keep_target": None,
            "method": "dense",
            "status": "ok",
            "keep": 1.0,
            "clip_acc": acc,
            "clip_acc_ci95": list(wilson_interval(int(hits.sum()), hits.size)),
            "retention": 1.0,
            "frame_fidelity": 1.0,
            "clip_fidelity": 1.0,
            "flops_per_frame": flops,
            "flops_vs_dense": 1.0,
            "hits": bits(hits),
            **calibrated,
        }
    )


def compare(
    model: torch.nn.Module,
    processor: object,
    settings: CompareSettings,
    out_dir: Path,
    on_step: Callable[[str], None] = lambda _: None,
) -> list[dict]:
    """Every row of the comparison (resuming from ``out_dir/rows.jsonl``)."""
    store = RowStore(out_dir / "rows.jsonl", settings)
    ev = Evaluator(model, processor, settings.ema_decay, "budget", settings.batch)
    rows: list[dict] = []
    with torch.inference_mode():
        for variant in settings.variants:
            rows += compare_variant(ev, variant, settings, store, on_step)
    return rows


def steps(settings: CompareSettings) -> int:
    """Method runs of a full comparison (for a progress bar)."""
    return len(settings.variants) * len(settings.keeps) * len(settings.ordered_methods())


def select(rows: Iterable[dict], **match: object) -> list[dict]:
    """Rows whose fields equal ``match``."""
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


def methods_in(rows: Sequence[dict]) -> list[str]:
    """Methods of ``rows`` in first-seen order."""
    return list(dict.fromkeys(r["method"] for r in rows))
