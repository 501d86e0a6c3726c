"""Small results folders in the formats the commands write (tests only).

Each writer puts one ``results.json`` into a run directory, shaped like the real files
(``neuroflow-eval`` / ``-bench`` / ``-analyze`` / ``-baselines`` / ``-distill`` / ``-llm`` runs
and the moving-glyphs benchmark), with only the fields the paper report reads.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path


def _write(run: Path, results: dict) -> Path:
    run.mkdir(parents=True, exist_ok=True)
    (run / "results.json").write_text(json.dumps(results))
    return run


def eval_run(
    run: Path,
    sparse: float,
    threshold: float = 0.2,
    ema_decay: float = 0.01,
    skip: float = 0.7,
    arch: str = "C",
    dense: float = 0.9,
    image_size=None,
) -> Path:
    accuracy = {"acc": sparse, "ci_low": sparse - 0.1, "ci_high": sparse + 0.05, "n": 20}
    identity = {
        "kind": "eval",
        "method": {"name": arch},
        "gate": {"threshold": threshold, "ema_decay": ema_decay, "mode": "threshold"},
        "schedule": {"type": "Constant"},
        "dataset": {"name": "moving_glyphs", "size": 20},
        "model": {"source": "mini_siglip", "dtype": "float32", "image_size": image_size},
        "seed": 0,
        "identity_key": f"eval-{arch}-{threshold}-{ema_decay}-{image_size}",
        "git_commit": "0" * 40,
    }
    return _write(
        run,
        {
            "clips": 20,
            "dense": {"top1": {"acc": dense}, "top3": {"acc": 1.0}},
            "sparse": {"top1": accuracy, "top3": {"acc": 1.0}},
            "retention": sparse / dense,
            "mcnemar": {"a_only": 1, "b_only": 0, "pvalue": 1.0},
            "fidelity": 0.95,
            "keep_fraction": 1 - skip,
            "skip_rate": skip,
            "skip_rate_after_first": skip + 0.02,
            "speedup": 1.5,
            "identity": identity,
        },
    )


def bench_row(resolution: int, method: str, speedup: float, k: float, target=0.2) -> dict:
    ms = 100.0 / speedup
    return {
        "resolution": resolution,
        "tokens": (resolution // 16) ** 2,
        "streams": 1,
        "threshold": 0.3,
        "target_keep": target,
        "method": method,
        "k": k,
        "k_median": k,
        "ms_median": ms,
        "ms_p5": 0.9 * ms,
        "ms_p25": 0.95 * ms,
        "ms_p75": 1.05 * ms,
        "ms_p95": 1.2 * ms,
        "fps": 1000 / ms,
        "speedup": speedup,
        "ceiling": 1 / max(k, 0.01),
        "of_ceiling": speedup * k,
        "gflops": 1.0,
    }


def bench_run(run: Path, rows: list[dict], model: str = "random:siglip-b16", video="bikes") -> Path:
    identity = {
        "kind": "bench",
        "model": {"source": model, "dtype": "float32", "device": "cpu", "random_weights": True},
        "video": video,
        "identity_key": f"bench-{model}-{video}-{len(rows)}",
    }
    meta = {"device": "cpu", "dtype": "float32", "model": model, "random_weights": True}
    return _write(run, {"identity": identity, "meta": meta, "rows": rows, "gate": []})


def analysis_run(run: Path) -> Path:
    tables = {
        "representation_gap": [
            {"layer": 0, "cos_to_final": 0.05, "cos_std": 0.01, "gap": 0.95},
            {"layer": 4, "cos_to_final": 1.0, "cos_std": 0.0, "gap": 0.0},
        ],
        "contextual_incompatibility": [
            {
                "active_shift": 0.6,
                "active_shift_std": 0.1,
                "cache_staleness": 0.2,
                "cache_staleness_std": 0.05,
                "ratio": 3.0,
                "staleness_share": 0.25,
                "active_tokens": 10,
                "inactive_tokens": 30,
            }
        ],
        "degradation_law": [
            {"stretch": 1.0, "gap_pp": 4.0, "fitted_pp": 4.0, "residual_pp": 0.0},
            {"stretch": 2.0, "gap_pp": 5.0, "fitted_pp": 5.0, "residual_pp": 0.0},
        ],
        "gate_quality": [
            {
                "scope": "pooled",
                "dataset": "synthetic",
                "truth": "motion",
                "precision": 0.8,
                "recall": 0.6,
                "iou": 0.5,
                "frames_or_clips": 64,
            }
        ],
    }
    fit = {
        "intercept": 4.0,
        "slope": 1.0,
        "intercept_ci": [3.0, 5.0],
        "slope_ci": [0.0, 2.0],
        "r2": 1.0,
        "max_abs_residual": 0.0,
        "n": 2,
    }
    identity = {"kind": "analysis", "model": {"source": "mini_siglip"}, "identity_key": "an-1"}
    return _write(
        run,
        {
            "kind": "analysis",
            "identity": identity,
            "clips": 8,
            "tables": tables,
            "fits": {"degradation_law": {"fit": fit}},
        },
    )


def baselines_run(run: Path) -> Path:
    def row(method: str, keep_target, keep: float, acc: float) -> dict:
        return {
            "variant": "moving",
            "keep_target": keep_target,
            "method": method,
            "status": "ok",
            "keep": keep,
            "clip_acc": acc,
            "clip_acc_ci95": [acc - 0.05, acc],
            "retention": acc,
            "frame_fidelity": 0.9,
            "clip_fidelity": 0.95,
            "flops_vs_dense": keep,
            "hits": "1101",
        }

    rows = [
        row("dense", None, 1.0, 1.0),
        row("C", 0.2, 0.2, 0.95),
        row("random_C", 0.2, 0.2, 0.7),
        row("frame_reuse", 0.2, 0.15, 0.99),
        {
            "variant": "moving",
            "keep_target": 0.2,
            "method": "tome",
            "status": "unreachable",
            "reason": "cannot reach 0.2",
        },
    ]
    rows[2]["vs_c"] = {"diff": -0.25, "ci95": [-0.3, -0.2], "mcnemar_p": 0.01}
    identity = {
        "command": "neuroflow-baselines",
        "model": "mini_siglip (shipped)",
        "settings": {"keeps": [0.2]},
    }
    return _write(run, {"identity": identity, "rows": rows})


def baselines_speed_run(run: Path) -> Path:
    """The benchmark companion of :func:`baselines_run` (frame reuse timed at k = 0)."""
    rows = [
        bench_row(448, m, s, k)
        for m, s, k in (
            ("dense", 1.0, 1.0),
            ("C", 4.0, 0.2),
            ("random_C", 4.1, 0.2),
            ("frame_reuse", 90.0, 0.0),
        )
    ]
    return bench_run(run, rows)


def distill_run(run: Path) -> Path:
    def row(model: str, path: str, top1: float, keep: float) -> dict:
        return {
            "model": model,
            "path": path,
            "top1": top1,
            "ci_low": top1 - 0.05,
            "ci_high": top1,
            "clips": 200,
            "retention": top1,
            "fidelity_original": 0.5,
            "fidelity_dense": 0.4,
            "keep_fraction": keep,
        }

    rows = [
        row("original", "dense", 1.0, 1.0),
        row("original", "operating point", 0.4, 0.14),
        row("student", "dense", 0.99, 1.0),
        row("student", "operating point", 0.9, 0.14),
    ]
    identity = {
        "kind": "distill",
        "method": "B",
        "model": {"source": "mini_siglip"},
        "identity_key": "d-1",
    }
    return _write(run, {"status": "done", "identity": identity, "test": {"rows": rows}})


def llm_run(run: Path) -> Path:
    setting = {"gate_layer": 1, "cache_layers": "6", "kv": "advance", "threshold": 0.65}
    tables = {
        "similarity": [
            {
                "status": "ok",
                "layer": 0,
                "mean": 0.4,
                "p10": 0.0,
                "p50": 0.57,
                "p90": 0.9,
                "steps": 100,
            }
        ],
        "perplexity": [
            {"status": "ok", "domain": "code", "config": "dense", "ppl": 100.0, "tokens": 64},
            {
                "status": "ok",
                "domain": "code",
                "config": "bridge",
                **setting,
                "ppl": 101.0,
                "delta_ppl": 1.0,
                "delta_ppl_pct": 1.0,
                "bypass_rate": 0.5,
                "gate_p50": 0.8,
            },
        ],
        "drift": [
            {
                "status": "ok",
                "domain": "prose",
                "config": "bridge",
                **setting,
                "drift": 0.7,
                "bypass_rate": 0.5,
                "prompts": 3,
                "steps": 100,
            }
        ],
    }
    identity = {"kind": "llm", "model": {"source": "mini_lm"}, "identity_key": "llm-1"}
    return _write(run, {"identity": identity, "tables": tables})


def glyph_run(run: Path) -> Path:
    side = {"clip_acc": 0.99, "keep_fraction": 0.11, "frame_fidelity": 0.9, "motion_recall": 0.3}
    rows = [
        {
            "keep_target": 0.1,
            "arch_c": side,
            "random": {**side, "clip_acc": 0.8},
            "paired": {"diff": 0.19, "ci95": [0.1, 0.25], "mcnemar_p": 0.001},
        }
    ]
    moving = {"n": 300, "dense": {"clip_mean": 1.0}, "rows": rows}
    return _write(
        run,
        {
            "model": "mini_siglip (shipped)",
            "variants": {"moving": {}},
            "modes": {"budget": {"results": {"moving": moving}}},
        },
    )


def wandb_log(path: Path, config: dict, summary: dict, job_type: str = "eval") -> Path:
    """An offline run's ``run-<id>.wandb`` transaction log with one run and one summary record."""
    from wandb.proto import wandb_internal_pb2 as pb

    run = pb.Record()
    run.run.job_type = job_type
    for key, value in config.items():
        item = run.run.config.update.add()
        item.key, item.value_json = key, json.dumps(value)
    record = pb.Record()
    for key, value in summary.items():
        item = record.summary.update.add()
        item.key, item.value_json = key, json.dumps(value)
    raw = b":W&B" + b"\xbe\xef" + b"\x00"  # magic + version: the 7-byte file header
    for payload in (run.SerializeToString(), record.SerializeToString()):
        raw += struct.pack("<IHB", 0, len(payload), 1) + payload  # crc (unchecked), length, FULL
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)
    return path
