"""``neuroflow-analyze``: the paper's probes, law fits, failure classes and gate quality.

The study is :class:`neuroflow.analysis.study.AnalysisStudy`; the settings are
``conf/analyze.yaml``. Each table is appended to ``rows.jsonl`` when it is finished, so
``hydra.run.dir=<run>`` resumes an interrupted run without recomputing finished tables.
"""

from __future__ import annotations

import logging
from dataclasses import fields
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from neuroflow.cli.app import hydra_command
from neuroflow.cli.progress import progress_bar

log = logging.getLogger(__name__)


def analysis_settings(cfg: DictConfig) -> Any:
    """:class:`~neuroflow.analysis.study.AnalysisSettings` from the config's own keys."""
    from neuroflow.analysis.study import AnalysisSettings

    values = {f.name: cfg[f.name] for f in fields(AnalysisSettings)}
    plain = OmegaConf.to_container(OmegaConf.create(values), resolve=True)
    return AnalysisSettings(**{k: tuple(v) if isinstance(v, list) else v for k, v in plain.items()})


def load_clips(cfg: DictConfig, processor: Any) -> Any:
    """The configured dataset's clips as one normalised tensor, with labels and class names."""
    import numpy as np
    import torch
    from hydra.utils import instantiate

    from neuroflow.analysis.study import Clips
    from neuroflow.lit.build import build_transform

    transform = build_transform(cfg, processor)
    dataset = instantiate(cfg.dataset, transform=transform)
    items = [dataset[i] for i in range(len(dataset))]
    names = list(cfg.prompts.class_names or getattr(dataset, "class_names", []))
    if not names:
        raise ValueError("no class names: set prompts.class_names or use a labelled dataset")
    return Clips(
        pixels=torch.stack([item["frames"] for item in items]),
        labels=np.asarray([int(item["label"]) for item in items]),
        class_names=names,
        mean=transform.mean.flatten().tolist(),
        std=transform.std.flatten().tolist(),
        glyphs=getattr(dataset, "clips", None),
    )


def table_rows(frame: Any) -> dict[str, Any]:
    """A finished table as JSON-able rows, with its fit (``attrs``) when it has one."""
    return {"rows": frame.to_dict("records"), "attrs": dict(frame.attrs)}


def run(cfg: DictConfig, run_dir: str | Path) -> dict:
    """Run (or resume) the analysis in ``run_dir``; write, print and mirror the tables."""
    import torch
    from hydra.utils import instantiate

    from neuroflow.analysis import report
    from neuroflow.analysis.study import AnalysisStudy
    from neuroflow.bench.report import rows_table
    from neuroflow.eval.zeroshot import build_classifier, project_image
    from neuroflow.identity import PROVENANCE, analysis_identity
    from neuroflow.lit.console import output_console
    from neuroflow.models.dtypes import parse_dtype
    from neuroflow.models.loading import load_vision_language_model, wrap_tower
    from neuroflow.results import RowLog, RunResults

    torch.set_num_threads(int(cfg.model.threads))
    torch.manual_seed(int(cfg.seed))
    sink = RunResults(run_dir)
    sink.save_config(cfg)
    model, processor = load_vision_language_model(
        cfg.model.source, dtype=parse_dtype(cfg.model.dtype), device=cfg.model.device
    )
    clips = load_clips(cfg, processor)
    classifier = build_classifier(model, processor, clips.class_names, list(cfg.prompts.templates))
    study = AnalysisStudy(
        wrap_tower(model),
        classifier,
        lambda pooled: project_image(model, pooled),
        clips,
        instantiate(cfg.gate),
        instantiate(cfg.cache),
        analysis_settings(cfg),
    )
    identity = analysis_identity(OmegaConf.to_container(cfg, resolve=True), model)
    # A resume must match everything but the table list (more tables may be added later).
    settings = {k: v for k, v in identity.items() if k not in (*PROVENANCE, "identity_key")}
    settings["settings"] = {k: v for k, v in settings["settings"].items() if k != "tables"}
    store = RowLog(sink.run_dir / "rows.jsonl", settings, ("table",))
    if store.rows:
        print(f"resuming {sink.run_dir}: {len(store.rows)} tables already done")
    tables: dict[str, dict] = {}
    plan = study.plan()
    with progress_bar("analysis", len(plan)) as advance:
        for work in plan:
            advance(work.table)
            done = store.get(work.table)
            if done is None:
                done = store.add({"table": work.table, **table_rows(work.run())})
            tables[work.table] = {"rows": done["rows"], "attrs": done["attrs"]}
    for name, table in tables.items():
        sink.add_table(name, table["rows"])
    sink.write(
        {
            "kind": "analysis",
            "identity": identity,
            "clips": len(clips.labels),
            "tables": {name: t["rows"] for name, t in tables.items()},
            "fits": {name: t["attrs"] for name, t in tables.items() if t["attrs"]},
        }
    )
    (sink.run_dir / "results.md").write_text(report.markdown(tables))
    for path in report.plots(tables, sink.run_dir):
        log.info("wrote %s", path)
    console = output_console()
    for title, view, caption in report.summary(tables):
        cells = [[report.fmt(v) for v in row] for row in view.itertuples(index=False)]
        console.print(rows_table(title, [str(c) for c in view.columns], cells, caption))
    print(f"run directory: {sink.run_dir}")
    sink.mirror_to_wandb(
        cfg.logger,
        OmegaConf.to_container(cfg, resolve=True),
        "analysis",
        name=f"analysis {cfg.model.source}",
        group=cfg.get("task_name"),
    )
    return {name: len(t["rows"]) for name, t in tables.items()}


main = hydra_command("analyze", "neuroflow.cli.analyze:run")

if __name__ == "__main__":
    main()
