"""``neuroflow-bench``: fair latency, FLOPs and speedup against the FLOP ceiling (Hydra entry)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from neuroflow.cli.resolvers import register

register()
log = logging.getLogger(__name__)
# The configs live at the repository root (editable install), next to the package.
CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")


def settings_from(cfg: DictConfig) -> Any:
    """Map the composed config onto :class:`~neuroflow.bench.BenchSettings`."""
    from neuroflow.bench import BenchSettings
    from neuroflow.core.gate import GateConfig

    gate = OmegaConf.to_container(cfg.gate, resolve=True)
    targets = gate.pop("target_keep", None) or []
    targets = [targets] if isinstance(targets, (int, float)) else list(targets)
    return BenchSettings(
        model=cfg.model.source,
        dtype=cfg.model.dtype,
        device=cfg.model.device,
        threads=cfg.get("threads"),
        video=str(cfg.video),
        start=int(cfg.start),
        frames=int(cfg.frames),
        warmup=int(cfg.warmup),
        resolutions=[int(r) for r in cfg.resolutions],
        methods=[str(m) for m in cfg.methods],
        gate=GateConfig(**gate),
        target_keep=[float(t) for t in targets],
        streams=[int(s) for s in cfg.streams],
        stream_offset=int(cfg.stream_offset),
        dense_layers=cfg.get("dense_layers"),
        flop_frames=int(cfg.flop_frames),
        seed=int(cfg.seed),
        profile=bool(cfg.profile),
    )


def run(cfg: DictConfig, run_dir: str | Path) -> float:
    """Run the benchmark, write and print the results; returns Arch C's best speedup (or 0)."""
    from neuroflow.bench import run_benchmark
    from neuroflow.bench.plots import save_plots
    from neuroflow.bench.report import print_report
    from neuroflow.results import RunResults

    sink = RunResults(run_dir)
    sink.save_config(cfg)
    report = run_benchmark(settings_from(cfg), log=log.info)
    sink.add_table("results", report.rows)
    sink.add_table("gate_overhead", report.gate)
    sink.add_table("flop_breakdown", report.breakdowns)
    for name, text in report.profiles.items():
        (sink.run_dir / f"profile_{name}.txt").write_text(text)
    sink.write(
        {
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
    print(f"results: {sink.run_dir}")
    _log_wandb(cfg, sink)
    speedups = [r["speedup"] for r in report.rows if r["method"] == "C"]
    return max(speedups, default=0.0)


def _log_wandb(cfg: DictConfig, sink: Any) -> None:
    logger = cfg.get("logger") or {}
    if not logger.get("enabled", False) or logger.get("mode") == "disabled":
        return
    import wandb

    run = wandb.init(
        project=logger.get("project", "neuroflow"),
        mode=logger.get("mode"),
        dir=str(sink.run_dir),
        group=logger.get("group"),
        tags=list(logger.get("tags") or []),
        job_type="bench",
        config=OmegaConf.to_container(cfg, resolve=True),
        reinit="finish_previous",
    )
    try:
        sink.log_wandb(run)
    finally:
        run.finish()


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="bench")
def main(cfg: DictConfig) -> float:
    """Benchmark as configured (see ``conf/bench.yaml``)."""
    from neuroflow.cli.errors import exit_on_user_error

    with exit_on_user_error():
        return run(cfg, HydraConfig.get().runtime.output_dir)


if __name__ == "__main__":
    main()
