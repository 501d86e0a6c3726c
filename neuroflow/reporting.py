"""Collect finished runs' ``results.json`` files into one table (for papers and sweeps)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

COLUMNS = {
    "model": ("config", "model"),
    "arch": ("config", "arch"),
    "threshold": ("config", "threshold"),
    "ema_decay": ("config", "ema_decay"),
    "clips": ("clips",),
    "dense_top1": ("dense", "top1", "acc"),
    "sparse_top1": ("sparse", "top1", "acc"),
    "sparse_top1_ci_low": ("sparse", "top1", "ci_low"),
    "sparse_top1_ci_high": ("sparse", "top1", "ci_high"),
    "dense_top3": ("dense", "top3", "acc"),
    "sparse_top3": ("sparse", "top3", "acc"),
    "retention": ("retention",),
    "mcnemar_p": ("mcnemar", "pvalue"),
    "fidelity": ("fidelity",),
    "skip_rate": ("skip_rate",),
    "skip_rate_after_first": ("skip_rate_after_first",),
    "walltime_ratio": ("speedup",),
}


def _get(data: dict, path: tuple[str, ...]) -> object:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def collect_runs(root: str | Path) -> pd.DataFrame:
    """One row per ``results.json`` below ``root`` (evaluation runs), sorted by path.

    Raises:
        FileNotFoundError: No finished run lies below ``root``.
    """
    paths = sorted(Path(root).rglob("results.json"))
    rows = []
    for path in paths:
        data = json.loads(path.read_text())
        if "sparse" not in data:
            continue  # not an evaluation run (e.g. a benchmark)
        row = {name: _get(data, key) for name, key in COLUMNS.items()}
        row["run"] = str(path.parent.relative_to(root))
        rows.append(row)
    if not rows:
        raise FileNotFoundError(f"no evaluation results.json below {root}")
    frame = pd.DataFrame(rows)
    frame["gap_pp"] = 100 * (frame["dense_top1"] - frame["sparse_top1"])
    return frame.set_index("run")


def write_tables(frame: pd.DataFrame, out_dir: str | Path, name: str = "table") -> list[Path]:
    """Write ``frame`` as CSV, Markdown and LaTeX into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.csv", out / f"{name}.md", out / f"{name}.tex"]
    frame.to_csv(paths[0])
    paths[1].write_text(frame.to_markdown(floatfmt=".4f") + "\n")
    paths[2].write_text(frame.to_latex(float_format="%.4f"))
    return paths
