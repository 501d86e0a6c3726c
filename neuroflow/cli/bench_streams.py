"""``neuroflow-bench-streams``: the StreamEngine against a dense batch and a per-stream loop."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from neuroflow.cli.app import hydra_command
from neuroflow.cli.bench import settings_from as bench_settings_from

log = logging.getLogger(__name__)


def settings_from(cfg: DictConfig) -> Any:
    """:class:`~neuroflow.bench.streams.StreamBenchSettings` from the composed config."""
    from neuroflow.bench.streams import StreamBenchSettings

    return bench_settings_from(cfg, StreamBenchSettings)


def run(cfg: DictConfig, run_dir: str | Path) -> float:
    """Run the benchmark, write and print the results; returns the engine's best fps."""
    from neuroflow.bench.streams import run_stream_benchmark
    from neuroflow.bench.streams_report import print_report, save_plots
    from neuroflow.identity import bench_identity
    from neuroflow.results import RunResults

    sink = RunResults(run_dir)
    sink.save_config(cfg)
    settings = settings_from(cfg)
    report = run_stream_benchmark(settings, log=log.info)
    # "benchmark" keeps this run's identity key apart from neuroflow-bench runs'.
    identity = bench_identity(report.meta, {**dataclasses.asdict(settings), "benchmark": "streams"})
    sink.add_table("results", report.rows)
    sink.add_table("calibration", report.calibration)
    sink.add_table("flop_breakdown", [report.breakdown])
    sink.write(
        {
            "identity": identity,
            "meta": report.meta,
            "rows": report.rows,
            "calibration": report.calibration,
            "breakdown": report.breakdown,
            "samples": report.samples,
        }
    )
    if cfg.get("plots", True) and report.rows:
        save_plots(report, sink.run_dir)
    print_report(report)
    print(f"run directory: {sink.run_dir}")
    streams = ",".join(str(s) for s in settings.streams)
    sink.mirror_to_wandb(
        cfg.logger,
        OmegaConf.to_container(cfg, resolve=True),
        "bench_streams",
        name=f"bench-streams {settings.model} {settings.resolution}px S={streams}",
        group=cfg.get("task_name"),
    )
    return max((r["fps"] for r in report.rows if r["method"] == "engine"), default=0.0)


main = hydra_command("bench_streams", "neuroflow.cli.bench_streams:run")

if __name__ == "__main__":
    main()
