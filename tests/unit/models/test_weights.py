"""Weights are trusted only when safe to read and finite; loading is quiet and keeps tokens out."""

import logging
import shutil
import warnings

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import SiglipVisionConfig, SiglipVisionModel
from transformers.utils import logging as hf_logging

from neuroflow.models import (
    ModelNotAvailableError,
    load_vision_language_model,
    load_vision_model,
    register_source,
)
from neuroflow.models.loading import _hub_weights_message
from neuroflow.models.mini_siglip import SHIPPED_DIR, load_mini_siglip, tiny_vision_language
from neuroflow.models.sources import TINY_KW, unregister_source

POISONED = "encoder.layers.0.mlp.fc1.weight"  # "vision_model." first in a full SigLIP


def poison(file, key, value=float("nan")):
    tensors = load_file(str(file))
    tensors[key][0, 0] = value
    save_file(tensors, str(file), metadata={"format": "pt"})


@pytest.fixture()
def tiny_dir(tmp_path):
    load_vision_model("tiny-siglip").hf.save_pretrained(tmp_path / "tiny")
    return tmp_path / "tiny"


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_of_a_directory_are_refused_by_name(tiny_dir, value):
    poison(tiny_dir / "model.safetensors", POISONED, value)
    with pytest.raises(ModelNotAvailableError, match=rf"{tiny_dir}.*{POISONED}.*NaN or inf"):
        load_vision_model(tiny_dir)


def test_non_finite_weights_of_a_vision_language_model_are_refused(tmp_path):
    model, processor = tiny_vision_language()
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    poison(tmp_path / "model.safetensors", "text_model.embeddings.token_embedding.weight")
    with pytest.raises(ModelNotAvailableError, match="token_embedding"):
        load_vision_language_model(tmp_path)


def test_non_finite_mini_siglip_copy_is_refused(tmp_path):
    copy = tmp_path / "mini"
    shutil.copytree(SHIPPED_DIR, copy)  # the shipped files stay untouched
    poison(copy / "model.safetensors", f"vision_model.{POISONED}")
    with pytest.raises(ModelNotAvailableError, match=rf"mini SigLIP directory {copy}.*fc1"):
        load_mini_siglip(copy)


def test_a_trained_registered_source_is_checked_a_random_one_is_not():
    def broken(seed):
        model = SiglipVisionModel(SiglipVisionConfig(**TINY_KW))
        with torch.no_grad():
            model.post_layernorm.weight[0] = float("nan")
        return model

    register_source("test-broken-trained", broken)
    register_source("test-broken-random", broken, random_weights=True)
    try:
        with pytest.raises(ModelNotAvailableError, match="'test-broken-trained'.*post_layernorm"):
            load_vision_model("test-broken-trained")
        load_vision_model("test-broken-random")  # timing only: not checked, not refused
    finally:
        unregister_source("test-broken-trained")
        unregister_source("test-broken-random")


def test_truncated_safetensors_is_named_as_damaged(tiny_dir):
    file = tiny_dir / "model.safetensors"
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])
    with pytest.raises(ModelNotAvailableError, match=rf"{file} is damaged.*re-download"):
        load_vision_model(tiny_dir)
    with pytest.raises(ModelNotAvailableError, match=rf"{file} is damaged"):
        load_vision_language_model(tiny_dir)


def test_pickle_only_directory_is_refused_with_how_to_convert(tiny_dir):
    tower = load_vision_model(tiny_dir)
    (tiny_dir / "model.safetensors").unlink()
    torch.save(tower.hf.state_dict(), tiny_dir / "pytorch_model.bin")
    with pytest.raises(ModelNotAvailableError, match="only pickle weights") as err:
        load_vision_model(tiny_dir)
    assert "pytorch_model.bin" in str(err.value) and "save_pretrained" in str(err.value)
    assert "weights_only=True" in str(err.value)
    # The conversion the message gives works (transformers reads it with weights_only=True).
    SiglipVisionModel.from_pretrained(tiny_dir, use_safetensors=False).save_pretrained(tiny_dir)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(load_vision_model(tiny_dir)(x), tower(x))


def test_hub_weights_without_safetensors_get_the_conversion_message():
    err = OSError(
        "org/model does not appear to have a file named model.safetensors or "
        "model.safetensors.index.json and thus cannot be loaded with `safetensors`."
    )
    message = _hub_weights_message("org/model", err)
    assert "no model.safetensors" in message and "save_pretrained" in message
    assert _hub_weights_message("org/model", OSError("offline")) is None


@pytest.fixture()
def every_record():
    """Every log record of transformers, the hub and the root logger, at DEBUG."""
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler, level = Keep(logging.DEBUG), hf_logging.get_verbosity()
    loggers = [logging.getLogger(n) for n in ("", "transformers", "huggingface_hub")]
    for lg in loggers:
        lg.addHandler(handler)
    hf_logging.set_verbosity_debug()
    yield records
    hf_logging.set_verbosity(level)
    for lg in loggers:
        lg.removeHandler(handler)


def test_no_token_reaches_a_log_record_or_the_config(tiny_dir, monkeypatch, every_record):
    monkeypatch.setenv("HF_TOKEN", "secret-value")
    tower = load_vision_model(tiny_dir)
    model, _ = load_vision_language_model("mini_siglip")
    with pytest.raises(ModelNotAvailableError) as err:
        load_vision_model("google/siglip-base-patch16-224")  # offline: the hub path
    assert every_record, "the capture saw nothing: the test would prove nothing"
    text = [r.getMessage() for r in every_record] + [str(err.value)]
    text += [tower.config.to_json_string(), model.config.to_json_string()]
    assert not [t for t in text if "secret-value" in t]


def test_loading_the_mini_siglip_prints_no_warning(capfd):
    hf_logging.warning_once.cache_clear()  # a warning already given once would hide here
    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    handler = Keep(logging.WARNING)
    logging.getLogger("transformers").addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            load_vision_language_model("mini_siglip")
            load_vision_model("mini_siglip")
    finally:
        logging.getLogger("transformers").removeHandler(handler)
    out, err = capfd.readouterr()
    assert seen == [] and [str(w.message) for w in caught] == []
    assert out == "" and err == ""
