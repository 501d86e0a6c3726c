"""Every config group option, experiment and sweep composes; the key targets instantiate."""

import pytest
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import OmegaConf

from neuroflow.lit.build import build_archs, gate_config
from neuroflow.models.loading import load_vision_model
from tests.confs import compose_eval, group_options

GROUPS = [
    "model",
    "arch",
    "gate",
    "cache",
    "schedule",
    "dataset",
    "prompts",
    "trainer",
    "logger",
    "callbacks",
    "degradation_point",
]


def options():
    for group in GROUPS:
        for name in group_options(group):
            yield group, name


@pytest.mark.parametrize(("group", "name"), list(options()))
def test_every_group_option_composes(group, name, tmp_path):
    prefix = "+" if group == "degradation_point" else ""
    cfg = compose_eval([f"{prefix}{group}={name}"], tmp_path)
    HydraConfig.instance().set_config(cfg)
    resolved = OmegaConf.to_container(cfg, resolve=group != "dataset" or name != "ucf101")
    assert resolved is not None


@pytest.mark.parametrize("name", group_options("gate"))
def test_gates_validate(name, tmp_path):
    cfg = compose_eval([f"gate={name}"], tmp_path)
    assert gate_config(cfg.gate).threshold == cfg.gate.threshold


@pytest.mark.parametrize("arch", group_options("arch"))
def test_archs_instantiate_on_tiny_tower(arch, tmp_path):
    cfg = compose_eval([f"arch={arch}"], tmp_path)
    dense, sparse = build_archs(cfg, load_vision_model("tiny-siglip"))
    assert sparse.name.lower() == arch.lower() or arch == "dense"


@pytest.mark.parametrize("name", group_options("schedule"))
def test_schedules_instantiate(name, tmp_path):
    cfg = compose_eval([f"schedule={name}"], tmp_path)
    HydraConfig.instance().set_config(cfg)
    assert hasattr(instantiate(cfg.schedule), "before_frame")


@pytest.mark.parametrize("name", group_options("experiment"))
def test_experiments_compose(name, tmp_path):
    cfg = compose_eval([f"experiment={name}"], tmp_path)
    assert cfg.task_name == name
    assert cfg.hydra.sweeper.params, "paper-table experiments are multiruns"


@pytest.mark.parametrize("name", group_options("sweep"))
def test_sweeps_compose(name, tmp_path):
    cfg = compose_eval([f"sweep={name}"], tmp_path)
    assert cfg.hydra.mode.name == "MULTIRUN" and cfg.hydra.sweeper.params


def test_debug_fast_composes(tmp_path):
    cfg = compose_eval(["debug=fast"], tmp_path)
    assert cfg.trainer.limit_test_batches == 2 and not cfg.logger.enabled
