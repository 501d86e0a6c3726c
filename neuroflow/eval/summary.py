"""Turn per-clip records into the run's summary: accuracies with intervals, paired test, rates."""

from __future__ import annotations

import math
from collections.abc import Sequence

from neuroflow.eval.clip_eval import ClipRecord
from neuroflow.eval.metrics import per_class_accuracy
from neuroflow.eval.stats import accuracy_summary, mcnemar_test


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else float("nan")


def summarize(records: Sequence[ClipRecord], class_names: Sequence[str] | None = None) -> dict:
    """Summary of a dense-vs-sparse evaluation.

    Returns:
        A JSON-ready dict: ``dense`` and ``sparse`` top-1/top-3 with Wilson intervals,
        ``retention`` (sparse/dense top-1), ``mcnemar`` (exact paired test on top-1 hits,
        dense as method A),
        ``fidelity``, ``keep_fraction``, ``skip_rate`` (with and without the first frame),
        wall times and the measured ``speedup`` (dense/sparse seconds, same process), and
        per-class accuracies.
    """
    if not records:
        raise ValueError("no clips were evaluated; nothing to summarise")
    out: dict = {"clips": len(records)}
    for side in ("dense", "sparse"):
        out[side] = {
            "top1": accuracy_summary([getattr(r, f"{side}_top1") for r in records]),
            "top3": accuracy_summary([getattr(r, f"{side}_top3") for r in records]),
            "seconds": sum(getattr(r, f"{side}_seconds") for r in records),
        }
    dense_acc = out["dense"]["top1"]["acc"]
    out["retention"] = out["sparse"]["top1"]["acc"] / dense_acc if dense_acc else float("nan")
    out["mcnemar"] = mcnemar_test([r.dense_top1 for r in records], [r.sparse_top1 for r in records])
    out["fidelity"] = _mean([r.fidelity for r in records])
    out["keep_fraction"] = _mean([r.keep_fraction for r in records])
    out["skip_rate"] = _mean([r.skip_rate for r in records])
    out["skip_rate_after_first"] = _mean([r.skip_rate_after_first for r in records])
    sparse_s = out["sparse"]["seconds"]
    out["speedup"] = out["dense"]["seconds"] / sparse_s if sparse_s > 0 else float("nan")
    labels = [r.label for r in records]
    names = list(class_names) if class_names is not None else None
    out["per_class"] = {
        (names[c] if names else str(c)): {
            "n": d["n"],
            "dense": d["acc"],
            "sparse": per_class_accuracy(labels, [r.sparse_top1 for r in records])[c]["acc"],
        }
        for c, d in per_class_accuracy(labels, [r.dense_top1 for r in records]).items()
    }
    return out


def recovery_counts(records: Sequence[ClipRecord]) -> dict[str, int]:
    """How many evaluated clips needed each recovery, by name (``{"repeat_last": 3, ...}``).

    Names are the parts of :attr:`ClipRecord.recovery` before ``:``; a clip with two
    recoveries counts once under each. Clips without a recovery are not counted; names are
    sorted so that two runs give the same dict.
    """
    counts: dict[str, int] = {}
    for record in records:
        names = {part.split(":", 1)[0] for part in record.recovery.split(";") if part}
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def summary_rows(summary: dict) -> list[dict]:
    """The headline table: one row for dense, one for sparse."""
    rows = []
    for side in ("dense", "sparse"):
        top1, top3 = summary[side]["top1"], summary[side]["top3"]
        rows.append(
            {
                "method": side,
                "top1": top1["acc"],
                "top1_ci_low": top1["ci_low"],
                "top1_ci_high": top1["ci_high"],
                "top3": top3["acc"],
                "fidelity": 1.0 if side == "dense" else summary["fidelity"],
                "skip_rate": 0.0 if side == "dense" else summary["skip_rate"],
                "skip_rate_after_first": 0.0
                if side == "dense"
                else summary["skip_rate_after_first"],
                "seconds": summary[side]["seconds"],
            }
        )
    return rows


def headline_scalars(summary: dict) -> dict[str, float]:
    """The run's headline numbers under flat names (W&B summary keys, one per number).

    ``dense/top1``, ``dense/top3``, ``sparse/top1``, ``sparse/top3``, ``retention``,
    ``fidelity``, ``mcnemar_p``, ``keep_fraction``, ``skip_rate``, ``skip_rate_after_first``,
    ``walltime_ratio`` (dense/sparse seconds) and ``clips``.
    """
    out: dict[str, float] = {"clips": summary["clips"]}
    for side in ("dense", "sparse"):
        for k in ("top1", "top3"):
            out[f"{side}/{k}"] = summary[side][k]["acc"]
    out["mcnemar_p"] = summary["mcnemar"]["pvalue"]
    for key in ("retention", "fidelity", "keep_fraction", "skip_rate", "skip_rate_after_first"):
        out[key] = summary[key]
    out["walltime_ratio"] = summary["speedup"]
    return out


def per_class_rows(summary: dict) -> list[dict]:
    """The per-class table: one row per class with its clip count and dense/sparse top-1."""
    rows = []
    for name, entry in summary.get("per_class", {}).items():
        dense, sparse = entry["dense"], entry["sparse"]
        rows.append(
            {
                "class": name,
                "n": entry["n"],
                "dense_top1": dense,
                "sparse_top1": sparse,
                "gap_pp": 100 * (dense - sparse),
            }
        )
    return rows
