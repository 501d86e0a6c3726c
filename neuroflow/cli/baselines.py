"""``neuroflow-baselines``: Arch C and every baseline at matched keep fractions on moving glyphs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from neuroflow.cli.app import hydra_command
from neuroflow.cli.progress import progress_bar


def settings_from(cfg: DictConfig) -> Any:
    """:class:`~neuroflow.glyphs.baselines.CompareSettings` from the composed config."""
    from neuroflow.glyphs.baselines import CompareSettings

    return CompareSettings(
        methods=tuple(cfg.methods),
        variants=tuple(cfg.variants),
        keeps=tuple(float(k) for k in cfg.keeps),
        clips=int(cfg.clips),
        calibration_clips=int(cfg.calibration_clips),
        frames=int(cfg.frames),
        ema_decay=float(cfg.ema_decay),
        batch=int(cfg.batch_size),
        seed=int(cfg.seed),
        calibrate=bool(cfg.calibrate),
    )


def run(cfg: DictConfig, run_dir: str | Path) -> int:
    """Run (or resume) the comparison in ``run_dir``; write, print and mirror the results."""
    import torch

    from neuroflow.bench.report import rows_table
    from neuroflow.glyphs import baselines_report as report
    from neuroflow.glyphs.baselines import compare, steps
    from neuroflow.identity import git_state, weights_hash
    from neuroflow.lit.console import output_console
    from neuroflow.models.loading import load_vision_language_model
    from neuroflow.results import RunResults

    if cfg.speed.enabled and cfg.speed.variant not in cfg.variants:
        raise ValueError(
            f"speed.variant {cfg.speed.variant!r} is not among the variants run "
            f"({', '.join(cfg.variants)}): the timed methods take its matched settings"
        )
    torch.set_num_threads(int(cfg.threads))
    sink = RunResults(run_dir)
    sink.save_config(cfg)
    settings = settings_from(cfg)
    model, processor = load_vision_language_model("mini_siglip", adapter=cfg.adapter)
    done = sink.run_dir / "rows.jsonl"
    if done.is_file():
        print(f"resuming {sink.run_dir}: {len(done.read_text().splitlines())} rows already done")
    with progress_bar("methods at matched k", steps(settings)) as advance:
        rows = compare(model, processor, settings, sink.run_dir, advance)
    commit, dirty = git_state()
    identity = {
        "command": "neuroflow-baselines",
        "model": "mini_siglip (shipped)",
        "adapter": cfg.adapter,
        "weights_sha256": weights_hash("mini_siglip", model)[0],
        "git_commit": commit,
        "git_dirty": dirty,
        "settings": OmegaConf.to_container(cfg, resolve=True),
    }
    speed, goals = _speed_and_goals(cfg, rows, settings)
    sink.add_table("results", report.csv_rows(rows))
    if speed:
        sink.add_table("speed", speed)
    sink.write({"identity": identity, "rows": rows, "speed": speed, "goals": goals})
    text = report.markdown(rows)
    if goals or speed:
        from neuroflow.glyphs.ablation_report import goals_markdown, speed_markdown

        text += "\n" + (goals_markdown(goals) if goals else "") + "\n" + speed_markdown(speed)
    (sink.run_dir / "results.md").write_text(text)
    report.plot(rows, sink.run_dir / "accuracy_vs_keep.png")
    console = output_console()
    calibrated, columns = report.is_calibrated(rows), report.columns(rows)
    caption = "accuracies in %; minus C: paired difference to Arch C at the same k"
    if calibrated:
        caption += "; calibrated: after a per-class logit bias fitted on the calibration clips"
    for variant in settings.variants:
        cells = [report.row_cells(r, calibrated) for r in rows if r["variant"] == variant]
        console.print(rows_table(f"{variant} clips", columns, cells, caption))
    if goals:
        from neuroflow.glyphs.ablation_report import goals_markdown

        print(goals_markdown(goals))
    print(f"run directory: {sink.run_dir}")
    sink.mirror_to_wandb(
        cfg.logger,
        OmegaConf.to_container(cfg, resolve=True),
        "baselines",
        name=f"baselines mini_siglip {'+'.join(settings.variants)}",
        group=cfg.get("task_name"),
    )
    return len(rows)


def _speed_and_goals(cfg: DictConfig, rows: list[dict], settings: Any) -> tuple[list, list]:
    """Speed rows from the benchmark harness (``speed.enabled``) and the goal check."""
    from neuroflow.glyphs.ablation_report import goal_rows
    from neuroflow.glyphs.benchmark import benchmark_gate
    from neuroflow.glyphs.speed import SpeedSettings, speed_rows

    goals = goal_rows(rows, OmegaConf.to_container(cfg.goals)) if cfg.goals else []
    speed_cfg = SpeedSettings(**OmegaConf.to_container(cfg.speed))
    if not speed_cfg.enabled:
        return [], goals
    gate = benchmark_gate(settings.ema_decay)
    quiet = (lambda _: None) if not cfg.verbose else print
    print(f"timing every method on {speed_cfg.model} at {speed_cfg.resolution} px")
    return speed_rows(rows, settings.keeps, speed_cfg, gate, log=quiet), goals


main = hydra_command("baselines", "neuroflow.cli.baselines:run")

if __name__ == "__main__":
    main()
