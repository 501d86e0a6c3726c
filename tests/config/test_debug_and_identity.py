"""``debug=fast`` writes under its own folder; a run's identity tells composed configs apart."""

from pathlib import Path

import pytest
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from neuroflow.identity import run_identity
from tests.confs import compose_eval


def composed(overrides: list[str], output_dir: Path) -> dict:
    cfg = compose_eval(overrides, output_dir)
    HydraConfig.instance().set_config(cfg)
    return cfg


def output_dirs(cfg) -> tuple[Path, Path]:
    root = Path(cfg.paths.output_root)
    return Path(cfg.hydra.run.dir).relative_to(root), Path(cfg.hydra.sweep.dir).relative_to(root)


@pytest.mark.parametrize(
    "extra",
    [[], ["sweep=threshold"], ["experiment=t6_saturation_sweep"]],
    ids=["plain", "sweep", "experiment"],
)
def test_debug_runs_and_sweeps_go_under_debug(extra, tmp_path):
    full_run, full_sweep = output_dirs(composed(extra, tmp_path))
    cfg = composed([*extra, "debug=fast"], tmp_path)
    run_dir, sweep_dir = output_dirs(cfg)
    assert run_dir.parts[:2] == ("debug", cfg.task_name), run_dir
    assert sweep_dir.parts[:3] == ("debug", cfg.task_name, "multiruns"), sweep_dir
    assert full_run.parts[0] != "debug" and full_sweep.parts[0] != "debug"
    assert cfg.dataset.size == 8 and not cfg.logger.enabled


def test_debug_dir_gives_way_to_an_explicit_one(tmp_path):
    cfg = composed(["debug=fast", f"hydra.sweep.dir={tmp_path}/mine"], tmp_path)
    assert cfg.hydra.sweep.dir == f"{tmp_path}/mine"


def identity(overrides: list[str], output_dir: Path) -> dict:
    cfg = composed(overrides, output_dir)
    return run_identity(OmegaConf.to_container(cfg, resolve=True))


@pytest.mark.parametrize(
    "change",
    [
        "schedule=target_keep",
        "dataset.size=50",
        "dataset=moving_glyphs_change",
        "gate.max_cache_age=4",
        "cache=blend",
        "aggregation=last",
        "seed=1",
        "prompts=traffic",
        "model.dtype=bfloat16",
        "debug=fast",
    ],
)
def test_every_defining_setting_changes_the_key(change, tmp_path):
    base = identity([], tmp_path)
    other = identity(change.split(), tmp_path)
    assert other["identity_key"] != base["identity_key"], change


def test_same_run_same_key_and_speed_settings_do_not_count(tmp_path):
    first = identity([], tmp_path / "a")
    again = identity(["model.threads=2", "num_workers=2"], tmp_path / "b")
    assert again["identity_key"] == first["identity_key"]


def test_identity_records_what_ran(tmp_path):
    ident = identity(["schedule=target_keep", "dataset.size=20"], tmp_path)
    assert ident["method"] == {"name": "C"} and ident["gate"]["threshold"] == 0.2
    assert ident["schedule"]["type"] == "TargetKeep" and ident["schedule"]["target"] == 0.2
    assert ident["dataset"]["name"] == "moving_glyphs" and ident["dataset"]["size"] == 20
    assert {"seed", "num_frames", "noise", "change"} <= set(ident["dataset"])
    assert ident["model"]["source"] == "mini_siglip" and len(ident["model"]["weights_sha256"]) == 16
    assert ident["cache"] == {"mode": "hard", "alpha": 0.01} and ident["aggregation"] == "mean"
    assert ident["prompts"]["templates"] and ident["seed"] == 0


def test_run_local_clip_list_does_not_split_runs(tmp_path):
    first = identity(["dataset=ucf101"], tmp_path / "run1")
    second = identity(["dataset=ucf101"], tmp_path / "run2")
    assert first["dataset"]["clip_list"] == "<run_dir>/clip_list.json"
    assert first["identity_key"] == second["identity_key"]
