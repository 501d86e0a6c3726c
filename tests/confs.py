"""Compose the project's Hydra configs in tests, as the commands do (from the package)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from hydra import compose, initialize_config_module
from omegaconf import DictConfig, open_dict

from neuroflow.cli.app import CONF_MODULE, validate
from neuroflow.cli.resolvers import register
from neuroflow.cli.schemas import register_schemas

CONF_DIR = Path(str(files(CONF_MODULE)))


def group_options(group: str) -> list[str]:
    """Option names of a config group."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def compose_config(name: str, overrides: list[str], output_dir: Path | None = None) -> DictConfig:
    """The composed, schema-checked ``name`` config (its hydra node's output dir set)."""
    register()
    register_schemas()
    with initialize_config_module(config_module=CONF_MODULE, version_base="1.3"):
        cfg = compose(name, overrides=overrides, return_hydra_config=True)
    validate(cfg, name)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(output_dir or CONF_DIR)
    return cfg


def compose_eval(overrides: list[str], output_dir: Path | None = None) -> DictConfig:
    """The composed ``eval`` config (see :func:`compose_config`)."""
    return compose_config("eval", overrides, output_dir)
