"""Compose the project's Hydra configs in tests."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from neuroflow.cli.resolvers import register

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def group_options(group: str) -> list[str]:
    """Option names of a config group."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def compose_eval(overrides: list[str], output_dir: Path | None = None) -> DictConfig:
    """The composed ``eval`` config (with its hydra node, runtime dir set to ``output_dir``)."""
    register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("eval", overrides=overrides, return_hydra_config=True)
    if output_dir is not None:
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(output_dir)
    return cfg
