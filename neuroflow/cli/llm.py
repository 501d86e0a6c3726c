"""``neuroflow-llm``: the similarity-gated attention bypass on a causal LM (Hydra entry point).

The study is :class:`neuroflow.llm.study.LMStudy`; the settings are ``conf/llm.yaml``. Rows
are appended to ``rows.jsonl`` as they finish, so ``hydra.run.dir=<run>`` resumes a run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import fields
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from neuroflow.cli.app import hydra_command
from neuroflow.cli.progress import progress_bar

log = logging.getLogger(__name__)


def study_settings(cfg: DictConfig) -> Any:
    """:class:`~neuroflow.llm.study.StudySettings` from the config (the lm node gives pairs)."""
    from neuroflow.llm.study import StudySettings

    values = {f.name: cfg[f.name] for f in fields(StudySettings) if f.name != "pairs"}
    values["pairs"] = cfg.lm.pairs
    plain = OmegaConf.to_container(OmegaConf.create(values), resolve=True)
    return StudySettings(**plain)


def text_settings(cfg: DictConfig) -> Any:
    """:class:`~neuroflow.llm.texts.TextSettings` from the ``text`` node."""
    from neuroflow.llm.texts import TextSettings

    return TextSettings(**OmegaConf.to_container(cfg.text, resolve=True))


def _label(work) -> str:
    key = work.key
    if work.table == "similarity" or key.get("config") == "dense":
        return f"{work.table} {key.get('domain', '')} dense"
    return f"{work.table} {key.get('domain', '')} {key['config']} {key['kv']} θ={key['threshold']}"


def run_plan(study, store, title: str = "bypass ablation") -> dict[str, list[dict]]:
    """Every row of ``study``'s plan, from ``store`` when finished before, else computed."""
    plan = study.plan()
    tables: dict[str, list[dict]] = {}
    with progress_bar(title, len(plan)) as advance:
        for work in plan:
            advance(_label(work))
            name = json.dumps(work.key, sort_keys=True)
            row = store.get(work.table, name)
            if row is None:
                result = work.run()
                rows = result if isinstance(result, list) else [{**work.key, **result}]
                rows = [{"status": "ok", **r} for r in rows]
                row = store.add({"table": work.table, "work": name, "rows": rows})
            tables.setdefault(work.table, []).extend(row["rows"])
    return tables


def run(cfg: DictConfig, run_dir: str | Path) -> dict:
    """Run (or resume) the ablation in ``run_dir``; write, print and mirror the results."""
    import torch

    from neuroflow.bench.report import rows_table
    from neuroflow.identity import llm_identity
    from neuroflow.lit.console import output_console
    from neuroflow.llm import report
    from neuroflow.llm.loading import load_causal_lm
    from neuroflow.llm.study import LMStudy
    from neuroflow.llm.texts import load_texts
    from neuroflow.results import RowLog, RunResults

    torch.set_num_threads(int(cfg.threads))
    torch.manual_seed(int(cfg.seed))
    sink = RunResults(run_dir)
    sink.save_config(cfg)
    lm = cfg.lm
    model, tokenizer = load_causal_lm(
        lm.source, dtype=lm.dtype, attn_implementation=lm.attn_implementation
    )
    model.to(lm.device)
    settings, texts = study_settings(cfg), load_texts(tokenizer, text_settings(cfg))
    identity = llm_identity(OmegaConf.to_container(cfg, resolve=True), model)
    store = RowLog(sink.run_dir / "rows.jsonl", identity["settings"], ("table", "work"))
    if store.rows:
        print(f"resuming {sink.run_dir}: {len(store.rows)} rows already done")
    tables = run_plan(LMStudy(model, texts, settings), store)
    for table, rows in tables.items():
        sink.add_table(table, report.frame(rows, table).to_dict("records"))
    sink.write({"identity": identity, "tables": tables})
    (sink.run_dir / "results.md").write_text(report.markdown(tables))
    if tables.get("similarity"):
        report.plot_similarity(tables["similarity"], sink.run_dir / "similarity.png")
    if tables.get("drift"):
        report.plot_drift(tables["drift"], sink.run_dir / "drift_vs_threshold.png")
    console = output_console()
    for title, view, caption in report.summary(tables):
        cells = [[str(v) for v in row] for row in view.itertuples(index=False)]
        console.print(rows_table(title, [str(c) for c in view.columns], cells, caption))
    print(f"run directory: {sink.run_dir}")
    sink.mirror_to_wandb(
        cfg.logger,
        OmegaConf.to_container(cfg, resolve=True),
        "llm",
        name=f"llm bypass {lm.source}",
        group=cfg.get("task_name"),
    )
    return {t: len(r) for t, r in tables.items()}


main = hydra_command("llm", "neuroflow.cli.llm:run")

if __name__ == "__main__":
    main()
