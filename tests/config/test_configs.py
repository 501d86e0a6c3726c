"""Every config group option, experiment and sweep composes; the targets instantiate."""

import dataclasses
import re

import pytest
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import OmegaConf

from neuroflow.archs import get_method
from neuroflow.core.cache import CorticalCache
from neuroflow.core.gate import GateConfig
from neuroflow.lit.build import build_archs
from neuroflow.models.loading import load_vision_model
from tests.confs import CONF_DIR, compose_config, compose_eval, group_options

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
    chosen = cfg.hydra.runtime.choices.get(group)
    assert chosen == name, f"{group}={name} composed as {chosen}"
    assert resolved["task_name"] == "eval"


@pytest.mark.parametrize("name", group_options("gate"))
def test_gates_instantiate_and_hold_only_what_differs(name, tmp_path):
    cfg = compose_eval([f"gate={name}"], tmp_path)
    gate = instantiate(cfg.gate)
    assert isinstance(gate, GateConfig) and gate.threshold == cfg.gate.threshold
    own = OmegaConf.load(CONF_DIR / "gate" / f"{name}.yaml")
    settings = {k for k in own if k not in ("defaults", "_target_")}
    fields = {f.name for f in dataclasses.fields(GateConfig)}
    if name == "default":
        assert settings == fields  # the one file that lists (and documents) every setting
    else:
        assert list(own.defaults) == ["default"] and settings and len(settings) <= 3


def test_changing_one_gate_setting_reaches_the_gate(tmp_path):
    cfg = compose_eval(["gate.threshold=0.123", "gate.floor_tokens=7"], tmp_path)
    _, sparse = build_archs(cfg, load_vision_model("tiny-siglip"))
    assert sparse.gate.config.threshold == 0.123 and sparse.gate.config.floor_tokens == 7


@pytest.mark.parametrize("name", group_options("cache"))
def test_caches_instantiate(name, tmp_path):
    cache = instantiate(compose_eval([f"cache={name}"], tmp_path).cache)
    assert isinstance(cache, CorticalCache) and cache.mode == name


@pytest.mark.parametrize("arch", group_options("arch"))
def test_archs_instantiate_on_tiny_tower(arch, tmp_path):
    cfg = compose_eval([f"arch={arch}"], tmp_path)
    dense, sparse = build_archs(cfg, load_vision_model("tiny-siglip"))
    assert type(sparse) is get_method(cfg.arch.name) and dense.name == "dense"
    if arch in OPERATING_POINTS:  # a named setting of a method, not the method itself
        method, settings = OPERATING_POINTS[arch]
        assert sparse.name == method
        assert all(getattr(sparse.refresh, k) == v for k, v in settings.items())
    else:
        assert sparse.name.lower() == arch.lower()


# conf/arch files that name an operating point of a method: (method, settings it must reach)
OPERATING_POINTS = {
    "c_event": ("C", {"signal": "drift", "response": "keyframe"}),
    "e_event": ("E", {"signal": "drift", "response": "keyframe"}),
}


@pytest.mark.parametrize("name", group_options("schedule"))
def test_schedules_instantiate(name, tmp_path):
    cfg = compose_eval([f"schedule={name}"], tmp_path)
    HydraConfig.instance().set_config(cfg)
    assert hasattr(instantiate(cfg.schedule), "before_frame")


def experiment_command(name: str) -> str:
    """The command an experiment's header runs it with (``neuroflow-eval``, ``neuroflow-bench``)."""
    header = (CONF_DIR / "experiment" / f"{name}.yaml").read_text().split("defaults:")[0]
    commands = set(re.findall(r"neuroflow-(eval|bench|distill|llm|baselines)\b", header))
    assert len(commands) == 1, f"{name}: the header must name one command, found {commands}"
    return commands.pop()


@pytest.mark.parametrize("name", group_options("experiment"))
def test_experiments_compose_with_the_command_in_their_header(name, tmp_path):
    command = experiment_command(name)
    cfg = compose_config(command, [f"experiment={name}"], tmp_path)
    assert cfg.task_name == name
    if command == "eval":
        assert cfg.hydra.sweeper.params, "paper-table evaluation experiments are multiruns"
    elif command == "llm":
        from neuroflow.cli.llm import study_settings, text_settings

        settings, text = study_settings(cfg), text_settings(cfg)
        assert settings.tables and all(len(p) >= 2 for p in settings.pairs.values())
        assert text.source in ("heldout", "wikitext")
    elif command == "distill":
        instantiate(cfg.trainable), instantiate(cfg.curriculum), instantiate(cfg.loss)
        assert cfg.data.train.index_kwargs.subset == "train" and cfg.data.test.size
    elif command == "baselines":
        from neuroflow.archs import accepted_settings, get_method
        from neuroflow.archs.registry import parse_spec
        from neuroflow.cli.baselines import settings_from

        assert settings_from(cfg).methods
        for spec in cfg.methods:  # every inline setting applies to its method
            name, inline = parse_spec(spec)
            assert set(inline) <= set(accepted_settings(get_method(name))), spec
    else:
        from neuroflow.bench.registry import known_methods, parse_spec

        assert all(parse_spec(m)[0] in known_methods() for m in cfg.methods)


@pytest.mark.parametrize("name", group_options("sweep"))
def test_sweeps_compose(name, tmp_path):
    cfg = compose_eval([f"sweep={name}"], tmp_path)
    assert cfg.hydra.mode.name == "MULTIRUN" and cfg.hydra.sweeper.params


def test_debug_fast_composes(tmp_path):
    cfg = compose_eval(["debug=fast"], tmp_path)
    assert cfg.trainer.limit_test_batches == 2 and not cfg.logger.enabled


@pytest.mark.parametrize(
    ("config", "override", "key"),
    [
        ("eval", "gate.treshold=0.1", "treshold"),
        ("eval", "+foo=1", "foo"),
        ("eval", "batch_size=many", "batch_size"),
        ("bench", "round_frames=abc", "round_frames"),
        ("bench", "gate.target_keep=[0.1]", "target_keep"),
        ("stream", "windw=4", "windw"),
        ("stream", "max_frames=lots", "max_frames"),
        ("llm", "drift_stps=4", "drift_stps"),
        ("llm", "ppl_tokens=lots", "ppl_tokens"),
        ("llm", "lm.pairs.bridge=[a]", "bridge"),
    ],
)
def test_bad_keys_fail_at_compose(config, override, key, tmp_path):
    with pytest.raises(Exception, match=key):
        compose_config(config, [override], tmp_path)


def test_stream_config_builds_its_method_and_output_settings(tmp_path):
    from neuroflow.stream.outputs import OutputSettings

    cfg = compose_config("stream", ["arch=d", "gate=maxsparse", "embeddings=safetensors"], tmp_path)
    assert cfg.arch.name == "D" and cfg.gate.threshold == 0.35
    settings = OutputSettings(cfg.embeddings, window=cfg.window)
    assert settings.embeddings == "safetensors" and list(cfg.inputs) == ["bikes"]


def test_the_baselines_config_is_checked_against_its_schema(tmp_path):
    cfg = compose_config("baselines", [], tmp_path)
    assert "C" in cfg.methods and list(cfg.keeps) == [0.1, 0.2, 0.35, 0.5]
    with pytest.raises(Exception, match="clips"):
        compose_config("baselines", ["clips=many"], tmp_path)
