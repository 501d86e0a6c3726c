"""Collect finished runs' ``results.json`` files into tables (for papers and sweeps).

Rows are grouped by the run's identity (:mod:`neuroflow.identity`): runs that ran the same
experiment share a row (their numbers averaged, ``runs`` counting them), runs that differ in
anything that defines them (schedule, dataset size, weights, ...) never do, and every identity
field that differs between the collected runs gets a column, so the rows say how they differ.
Evaluation runs and benchmark runs go to separate tables. Results written before identities
existed (a ``config`` block) are read too, one row per run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from neuroflow.identity import PROVENANCE

log = logging.getLogger(__name__)

# Evaluation numbers: column -> path in results.json.
METRICS = {
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
# Benchmark row fields kept in the table; the first four locate the row within its run.
BENCH_POINT = ("resolution", "streams", "target_keep", "method")
BENCH_FIELDS = (
    *BENCH_POINT,
    "threshold",
    "k",
    "ms_median",
    "ms_p5",
    "ms_p95",
    "fps",
    "speedup",
    "ceiling",
    "of_ceiling",
    "gflops",
)
# Short names of the identity fields every table shows.
ALIASES = {
    "model.source": "model",
    "method.name": "arch",
    "dataset.name": "dataset",
    "schedule.type": "schedule",
    "gate.threshold": "threshold",
    "gate.ema_decay": "ema_decay",
    "model.dtype": "dtype",
    "model.device": "device",
}
EVAL_ALWAYS = ("model", "arch", "dataset", "schedule", "threshold", "ema_decay")
BENCH_ALWAYS = ("model", "dtype", "device")
_NOT_SHOWN = {*PROVENANCE, "identity_key", "kind"}


def _get(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, Mapping) or key not in data:
            return None
        data = data[key]
    return data


def flatten(identity: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted, aliased columns of an identity (``gate.max_cache_age``, ``threshold``, ...)."""
    out: dict[str, Any] = {}
    for key, value in identity.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        elif name not in _NOT_SHOWN:
            text = ", ".join(map(str, value)) if isinstance(value, list) else value
            out[ALIASES.get(name, name)] = text
    return out


def _legacy_identity(data: Mapping[str, Any]) -> dict[str, Any]:
    """What a results.json from before identities says about its run (its ``config`` block)."""
    config = data.get("config") or {}
    return {
        "model": {"source": config.get("model")},
        "method": {"name": config.get("arch")},
        "gate": {"threshold": config.get("threshold"), "ema_decay": config.get("ema_decay")},
    }


def load_results(root: str | Path) -> list[tuple[str, dict]]:
    """``(run directory relative to root, results)`` of every ``results.json`` below ``root``."""
    root = Path(root)
    found = []
    for path in sorted(root.rglob("results.json")):
        try:
            found.append((str(path.parent.relative_to(root)), json.loads(path.read_text())))
        except (OSError, json.JSONDecodeError) as err:  # one broken file must not hide the rest
            log.warning("skipping %s: %s", path, err)
    return found


def kind_of(data: Mapping[str, Any]) -> str | None:
    """``"eval"``, ``"bench"``, ``"llm"`` or None (another tool's results, e.g. the glyph
    report or a multi-stream benchmark, whose rows have their own columns)."""
    if (data.get("identity") or {}).get("benchmark") == "streams":
        return None
    if (data.get("identity") or {}).get("kind") == "llm" and "tables" in data:
        return "llm"
    if "sparse" in data and "dense" in data:
        return "eval"
    if isinstance(data.get("rows"), list) and isinstance(data.get("meta"), Mapping):
        return "bench"
    return None


def _identity(run: str, data: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The run's grouping key and flattened identity (legacy runs: their path, alone)."""
    identity = data.get("identity")
    if isinstance(identity, Mapping) and identity.get("identity_key"):
        return str(identity["identity_key"]), flatten(identity)
    return f"run:{run}", flatten(_legacy_identity(data))


def _varying(rows: list[dict], always: tuple[str, ...], identity_cols: list[str]) -> list[str]:
    """The shown identity columns: the ``always`` ones, then every one that differs."""

    def differs(col: str) -> bool:
        return len({json.dumps(r.get(col), default=str) for r in rows}) > 1

    shown = [c for c in always if c in identity_cols]
    return shown + [c for c in identity_cols if c not in shown and differs(c)]


def _group(
    rows: list[dict], keys: list[str], shown: list[str], numbers: tuple[str, ...]
) -> pd.DataFrame:
    """One row per distinct ``keys``, indexed by the first run's directory.

    Rows that share the keys ran the same experiment: their float ``numbers`` are averaged and
    ``runs`` counts them; identity columns are equal within a group, so the first is kept.
    """
    frame = pd.DataFrame(rows)
    frame["_order"] = range(len(frame))
    grouped = frame.groupby(keys, sort=False, dropna=False)
    # Counts (clips) stay whole: equal within a group, like the identity columns.
    average = [c for c in numbers if c not in keys and pd.api.types.is_float_dtype(frame[c])]
    first = [c for c in [*shown, *numbers, "run", "_order"] if c not in keys and c not in average]
    out = grouped.agg({**{c: "first" for c in first}, **{c: "mean" for c in average}})
    out["runs"] = grouped.size()
    out = out.reset_index().sort_values("_order").set_index("run")
    return out[[*shown, *numbers, "runs"]]


def _identity_columns(rows: list[dict], skip: set[str]) -> list[str]:
    """Identity columns in first-seen order (``_``-prefixed keys are internal)."""
    names = (k for r in rows for k in r if k not in skip and not k.startswith("_"))
    return list(dict.fromkeys(names))


def _rows(root: str | Path, kind: str, points) -> list[dict]:  # noqa: ANN001
    """One row per ``points(results)`` entry of every ``kind`` run below ``root``, each with
    the run's identity key (``_key``), its identity columns and its directory.

    Raises:
        FileNotFoundError: No finished run of that kind lies below ``root``.
    """
    rows = []
    for run, data in load_results(root):
        if kind_of(data) == kind:
            key, ident = _identity(run, data)
            rows += [{"_key": key, **ident, **point, "run": run} for point in points(data)]
    if not rows:
        label = {"eval": "evaluation", "bench": "benchmark"}.get(kind, kind)
        raise FileNotFoundError(f"no {label} results.json below {root}")
    return rows


def collect_runs(root: str | Path) -> pd.DataFrame:
    """The evaluation table: one row per run identity below ``root``, in path order.

    Raises:
        FileNotFoundError: No finished evaluation run lies below ``root``.
    """
    rows = _rows(root, "eval", lambda data: [{n: _get(data, p) for n, p in METRICS.items()}])
    shown = _varying(rows, EVAL_ALWAYS, _identity_columns(rows, {*METRICS, "run"}))
    frame = _group(rows, ["_key"], shown, tuple(METRICS))
    frame["gap_pp"] = 100 * (frame["dense_top1"] - frame["sparse_top1"])
    return frame


def collect_bench(root: str | Path) -> pd.DataFrame:
    """The benchmark table: one row per (run identity, resolution, streams, target, method).

    Raises:
        FileNotFoundError: No finished benchmark run lies below ``root``.
    """
    rows = _rows(
        root, "bench", lambda data: [{f: p.get(f) for f in BENCH_FIELDS} for p in data["rows"]]
    )
    # Row fields (the searched threshold, the stream count) win over same-named settings.
    shown = _varying(rows, BENCH_ALWAYS, _identity_columns(rows, {*BENCH_FIELDS, "run"}))
    return _group(rows, ["_key", *BENCH_POINT], shown, BENCH_FIELDS)


def collect_llm(root: str | Path) -> dict[str, pd.DataFrame]:
    """The language-model ablation's tables (``llm_similarity``, ``llm_perplexity``, ...):
    every row of every ``neuroflow-llm`` run below ``root``, after the identity columns that
    differ between the runs (the model always).

    Raises:
        FileNotFoundError: No finished ``neuroflow-llm`` run lies below ``root``.
    """
    from neuroflow.llm.report import COLUMNS

    def points(data: Mapping[str, Any]) -> list[dict]:
        return [{"_table": t, **r} for t, rows in data["tables"].items() for r in rows]

    rows = _rows(root, "llm", points)
    tables = {}
    for table in dict.fromkeys(r["_table"] for r in rows):
        part = [r for r in rows if r["_table"] == table]
        fields = [c for c in COLUMNS.get(table, []) if any(c in r for r in part)]
        fields += ["reason"] if any("reason" in r for r in part) else []
        identity = [c for c in _identity_columns(part, {*fields, "run", "status"})]
        shown = _varying(part, ("model",), identity)
        tables[f"llm_{table}"] = pd.DataFrame(part)[[*shown, *fields, "run"]].set_index("run")
    return tables


def collect_tables(root: str | Path) -> dict[str, pd.DataFrame]:
    """``{"eval": ..., "bench": ..., "llm_<table>": ...}``: the tables of the run kinds found
    below ``root``.

    Raises:
        FileNotFoundError: No kind of finished run lies below ``root``.
    """
    tables = {}
    for kind, collect in (("eval", collect_runs), ("bench", collect_bench)):
        try:
            tables[kind] = collect(root)
        except FileNotFoundError:
            continue
    try:
        tables.update(collect_llm(root))
    except FileNotFoundError:
        pass
    if not tables:
        raise FileNotFoundError(f"no evaluation, benchmark or llm results.json below {root}")
    return tables


def write_tables(frame: pd.DataFrame, out_dir: str | Path, name: str = "table") -> list[Path]:
    """Write ``frame`` as CSV, Markdown and LaTeX into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.csv", out / f"{name}.md", out / f"{name}.tex"]
    frame.to_csv(paths[0])
    paths[1].write_text(frame.to_markdown(floatfmt=".4f") + "\n")
    paths[2].write_text(frame.to_latex(float_format="%.4f"))
    return paths
