"""``neuroflow-bench``: fair latency, FLOPs and speedup against the FLOP ceiling (Hydra entry)."""

from __future__ import annotations

import logging
from dataclasses import fields
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from neuroflow.cli.app import hydra_command
from neuroflow.cli.schemas import BENCH_MODEL_KEYS

log = logging.getLogger(__name__)


def settings_from(cfg: DictConfig, settings_type: type | None = None) -> Any:
    """Benchmark settings from the composed config, field by field of the dataclass (not of a
    hand-written list): the model group gives the model fields, the gate group the gate, and
    every other field its same-named key (the schema has each one).

    Args:
        cfg: The composed config.
        settings_type: The settings dataclass (default :class:`~neuroflow.bench.BenchSettings`;
            ``neuroflow-bench-streams`` passes its ``StreamBenchSettings``).
    """
    from neuroflow.bench import BenchSettings

    settings_type = settings_type or BenchSettings
    values: dict[str, Any] = {"gate": instantiate(cfg.gate)}
    for f in fields(settings_type):
        if f.name in BENCH_MODEL_KEYS:
            values[f.name] = cfg.model[BENCH_MODEL_KEYS[f.name]]
        elif f.name != "gate":
            node = cfg[f.name]
            values[f.name] = OmegaConf.to_container(node) if OmegaConf.is_config(node) else node
    return settings_type(**values)


def run(cfg: DictConfig, run_dir: str | Path) -> float:
    """Run the benchmark, write and print the results; returns Arch C's best speedup (or 0)."""
    from neuroflow.bench import run_benchmark
    from neuroflow.bench.plots import save_plots
    from neuroflow.bench.report import print_report
    from neuroflow.identity import bench_identity, run_label
    from neuroflow.results import RunResults

    sink = RunResults(run_dir)
    sink.save_config(cfg)
    settings = settings_from(cfg)
    report = run_benchmark(settings, log=log.info)
    identity = bench_identity(report.meta, settings)
    sink.add_table("results", report.rows)
    sink.add_table("gate_overhead", report.gate)
    sink.add_table("flop_breakdown", report.breakdowns)
    for name, text in report.profiles.items():
        (sink.run_dir / f"profile_{name}.txt").write_text(text)
    sink.write(
        {
            "identity": identity,
            "meta": report.meta,
            "rows": report.rows,
            "gate": report.gate,
            "breakdowns": report.breakdowns,
            "samples": report.samples,
        }
    )
    if cfg.get("plots", True) and report.rows:
        save_plots(report, sink.run_dir)
    print_report(report)
    print(f"run directory: {sink.run_dir}")
    sink.mirror_to_wandb(
        cfg.logger,
        OmegaConf.to_container(cfg, resolve=True),
        "bench",
        name=run_label(identity),
        group=cfg.get("task_name"),
    )
    speedups = [r["speedup"] for r in report.rows if r["method"] == "C"]
    return max(speedups, default=0.0)


main = hydra_command("bench", "neuroflow.cli.bench:run")

if __name__ == "__main__":
    main()
