"""What an evaluation run prints on the terminal: one table that names the method that ran.

:func:`method_label` turns the resolved ``arch`` / ``gate`` / ``cache`` / ``schedule`` config
nodes into a row name (``Arch C θ=0.20 α=0.01 hard cache``), :func:`run_title` names a sweep
job after its overrides, and :func:`print_summary` prints the dense-vs-method table with the
paired test's p-value in scientific notation (a rounded ``p=0.000`` hides how small it is).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from neuroflow.eval.summary import summary_rows

# Methods whose keep decision is random (a keep fraction, no threshold or EMA).
# Hydra-only overrides say where a run writes, not what it computes: left out of titles.
_NOT_IN_TITLE = ("hydra.", "hydra/")
# A table narrower than this wraps rows onto two lines, and rich falls back to 80 columns
# whenever stdout is not a terminal (a pipe, a log file, a test).
_MIN_WIDTH = 120


def _num(value: Any, spec: str) -> str:
    """``value`` formatted with ``spec``; ``n/a`` for a missing or NaN number."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(value, spec)


def _get(node: Any, key: str, default: Any = None) -> Any:
    return node.get(key, default) if isinstance(node, Mapping) else default


def _schedule_part(schedule: Any) -> str | None:
    """A few words for a schedule that is not constant (None for a constant or no schedule).

    Accepts a config node (``_target_``) or a run identity's schedule (``type``).
    """
    kind = str(_get(schedule, "_target_") or _get(schedule, "type") or "").rsplit(".", 1)[-1]
    if not kind or kind == "Constant":
        return None
    if kind == "TargetKeep":
        return f"target_keep {_num(_get(schedule, 'target'), 'g')}"
    if kind == "Warmup":
        return f"warmup {_get(schedule, 'frames')} frames"
    if kind == "Keyframes":
        return f"keyframe every {_get(schedule, 'every')}"
    if kind == "Curriculum":
        low, high = (_get(schedule, "threshold") or [None, None])[:2]
        return f"curriculum θ∈[{low:g}, {high:g}]" if low is not None else "curriculum"
    return kind.lower()


def _method_class(name: str) -> Any:
    """The registered class of ``name`` (None when unknown: the label is still printed)."""
    try:
        from neuroflow.archs import get_method

        return get_method(name)
    except (ImportError, ValueError):
        return None


def method_label(cfg_like: Mapping) -> str:
    """A short, exact name of the method a run evaluated.

    Args:
        cfg_like: The resolved config as a plain mapping with ``arch`` (or ``method``, as in
            a run identity), ``gate``, ``cache`` and ``schedule`` nodes; missing ones count
            as the method's defaults.

    Returns:
        E.g. ``dense``, ``Arch C θ=0.20 α=0.01 hard cache``, ``Arch C k=0.20 α=0.01 blend
        cache (0.05)`` (budget gate, blended cache), ``Arch D θ=0.35 α=0.01 dense_layers=4
        hard cache``, ``Arch A θ=0.20 α=0.01 keyframe anchor``, ``random_C keep 0.20 hard
        cache``, ``Arch C θ=0.20 α=0.01 hard cache target_keep 0.2``.
    """
    arch = _get(cfg_like, "arch") or _get(cfg_like, "method") or {}
    gate = _get(cfg_like, "gate") or {}
    cache = _get(cfg_like, "cache") or {}
    name = str(_get(arch, "name", "?"))
    if name.lower() == "dense":
        return "dense"
    cls = _method_class(name)
    # What the method uses comes from the registry; an unknown name (an old run) gets a gate.
    uses_gate = getattr(cls, "uses_gate", True)
    uses_cache = getattr(cls, "uses_cache", False)
    random_keep = bool(getattr(getattr(cls, "gate_type", None), "by_count", False))
    parts = [name if random_keep or len(name) > 1 else f"Arch {name}"]
    if random_keep:
        parts.append(f"keep {_num(_get(gate, 'keep_fraction'), '.2f')}")
    elif uses_gate:
        if _get(gate, "mode") == "budget":
            parts.append(f"k={_num(_get(gate, 'keep_fraction'), '.2f')}")
        else:
            parts.append(f"θ={_num(_get(gate, 'threshold'), '.2f')}")
        parts.append(f"α={_num(_get(gate, 'ema_decay'), 'g')}")
        if _get(gate, "max_cache_age") is not None:
            parts.append(f"max_age={_get(gate, 'max_cache_age')}")
        if _get(gate, "signal") not in (None, "embedding"):
            parts.append(f"signal={_get(gate, 'signal')}")
    if "anchor" in arch:
        parts.append(f"{arch['anchor']} anchor")
    if "dense_layers" in arch:
        layers = arch["dense_layers"]
        parts.append(f"dense_layers={'half' if layers is None else layers}")
    if uses_cache:
        mode = _get(cache, "mode", "hard")
        alpha = _get(cache, "alpha")
        parts.append(f"blend cache ({_num(alpha, 'g')})" if mode == "blend" else f"{mode} cache")
    schedule = _schedule_part(_get(cfg_like, "schedule"))
    if schedule:
        parts.append(schedule)
    return " ".join(parts)


def run_title(task_name: str, overrides: Sequence[str]) -> str:
    """The table title: the task, plus the job's command-line overrides when it has any.

    Args:
        task_name: The run's ``task_name`` (``eval``).
        overrides: The job's overrides (``hydra.overrides.task``, e.g. those of one sweep job);
            ``hydra.*`` overrides (output folders) are left out.
    """
    shown = [o for o in overrides if not o.lstrip("+~").startswith(_NOT_IN_TITLE)]
    return f"{task_name}: {' '.join(shown)}" if shown else task_name


def hydra_overrides() -> list[str]:
    """The running Hydra job's task overrides; empty outside a Hydra job."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return [str(o) for o in HydraConfig.get().overrides.task]


def format_pvalue(p: Any) -> str:
    """``3.91e-03``: scientific notation, so a small p-value is never shown as 0.000."""
    return _num(p, ".2e")


def output_console(console: Console | None = None, min_width: int = _MIN_WIDTH) -> Console:
    """``console``, else a stdout console at least ``min_width`` wide when not on a terminal.

    On a terminal rich fits the table to the window; off one (a pipe, a log, a test) it
    falls back to 80 columns and wraps each row onto look-alike lines.
    """
    if console is not None:
        return console
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, min_width)
    return console


def print_summary(
    summary: Mapping, *, method_label: str, title: str, console: Console | None = None
) -> None:
    """Print the dense-vs-method table and the paired comparison.

    Args:
        summary: The run summary (:func:`neuroflow.eval.summary.summarize`, or a
            ``results.json`` read back, where NaN is ``None``).
        method_label: Name of the sparse row (:func:`method_label`).
        title: The table's title (:func:`run_title`); the clip count is appended.
        console: Where to print (default: stdout).
    """
    out = output_console(console)
    # Overrides such as prompts.templates=[...] would otherwise be read as rich markup.
    table = Table(title=escape(f"{title} ({summary['clips']} clips)"))
    for col in ("method", "top-1 [95% CI]", "top-3", "fidelity", "skip", "skip (after frame 1)"):
        table.add_column(col, justify="left" if col == "method" else "right", no_wrap=True)
    for row in summary_rows(dict(summary)):
        name = "dense" if row["method"] == "dense" else escape(method_label)
        low, high = _num(row["top1_ci_low"], ".3f"), _num(row["top1_ci_high"], ".3f")
        table.add_row(
            name,
            f"{_num(row['top1'], '.3f')} [{low}, {high}]",
            _num(row["top3"], ".3f"),
            _num(row["fidelity"], ".4f"),
            _num(row["skip_rate"], ".3f"),
            _num(row["skip_rate_after_first"], ".3f"),
        )
    out.print(table)
    m = summary["mcnemar"]
    out.print(
        f"retention {_num(summary.get('retention'), '.3f')} | McNemar dense-only {m['a_only']} "
        f"/ sparse-only {m['b_only']}, p={format_pvalue(m['pvalue'])}"
    )
    out.print(
        f"wall-time ratio dense/sparse {_num(summary.get('speedup'), '.2f')} (same process; "
        "timing proper: neuroflow-bench)"
    )
