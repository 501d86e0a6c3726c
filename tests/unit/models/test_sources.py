"""Named model sources, path-like sources that do not exist, and the suggested download."""

import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import pytest
import torch
from transformers import SiglipModel, SiglipVisionConfig, SiglipVisionModel

from neuroflow.models import (
    ModelNotAvailableError,
    SiglipTower,
    load_vision_language_model,
    load_vision_model,
    register_source,
    source_names,
)
from neuroflow.models.loading import DOWNLOAD_COMMAND
from neuroflow.models.sources import TINY_KW, get_source, unregister_source


@pytest.fixture()
def user_source():
    calls = []

    def loader(seed):
        calls.append(seed)
        torch.manual_seed(seed)
        return SiglipVisionModel(SiglipVisionConfig(**{**TINY_KW, "num_hidden_layers": 1}))

    register_source("test-user-tower", loader, description="one-layer test tower")
    yield calls
    unregister_source("test-user-tower")


def test_builtins_are_registered():
    assert {"tiny-siglip", "tiny-clip", "tiny-vit", "mini_siglip"} <= set(source_names())
    assert get_source("mini_siglip").vision_language is not None
    assert get_source("tiny-clip").vision_language is None


def test_user_registered_source_is_found(user_source):
    tower = load_vision_model("test-user-tower", seed=7)
    assert user_source == [7]
    assert isinstance(tower, SiglipTower) and len(tower.blocks) == 1 and not tower.training
    again = load_vision_model("test-user-tower", seed=7)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(tower(x), again(x), rtol=0, atol=0)
    with pytest.raises(ModelNotAvailableError, match="no text tower"):
        load_vision_language_model("test-user-tower")


def test_register_refuses_silent_overwrite(user_source):
    with pytest.raises(ValueError, match="already registered"):
        register_source("test-user-tower", lambda seed: None)
    assert get_source("test-user-tower").description == "one-layer test tower"


def test_a_registered_tower_is_used_as_is():
    tower = load_vision_model("tiny-siglip")
    register_source("test-ready-tower", lambda seed: tower)
    try:
        assert load_vision_model("test-ready-tower") is tower
    finally:
        unregister_source("test-ready-tower")


def test_tiny_vision_language_model_is_offline_and_deterministic():
    a, processor = load_vision_language_model("tiny-siglip")
    b, _ = load_vision_language_model("tiny-siglip")
    assert isinstance(a, SiglipModel)
    ids = processor.tokenizer("the digit seven.", padding="max_length")["input_ids"]
    assert len(ids) == 16 and ids[-1] == processor.tokenizer.pad_token_id
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name


@pytest.mark.parametrize(
    "source", ["./no/such/model", "/no/such/model", "a/b/c", "~/no-such-model-dir"]
)
def test_missing_path_says_no_model_directory(source):
    with pytest.raises(ModelNotAvailableError, match="no model directory at") as err:
        load_vision_model(source)
    assert "hf download" not in str(err.value)


def test_missing_path_object_is_never_read_as_a_hub_id(tmp_path):
    with pytest.raises(ModelNotAvailableError, match=f"no model directory at {tmp_path}"):
        load_vision_language_model(Path(tmp_path / "org" / "name"))


def test_existing_file_is_not_a_model_directory(tmp_path):
    (tmp_path / "weights.bin").write_bytes(b"")
    with pytest.raises(ModelNotAvailableError, match="not a model directory"):
        load_vision_model(tmp_path / "weights.bin")


def test_suggested_download_command_exists_in_installed_hub():
    """The command the hub-id error suggests is a CLI of the installed huggingface_hub."""
    program, subcommand = DOWNLOAD_COMMAND.split()[:2]
    scripts = {
        e.name: e.value
        for e in distribution("huggingface_hub").entry_points
        if e.group == "console_scripts"
    }
    assert program in scripts
    module, func = scripts[program].split(":")
    code = f"import sys; from {module} import {func} as m; sys.argv = sys.argv[1:]; m()"
    out = subprocess.run(
        [sys.executable, "-c", code, program, subcommand, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    for option in (o for o in DOWNLOAD_COMMAND.split() if o.startswith("--")):
        assert option in out.stdout
