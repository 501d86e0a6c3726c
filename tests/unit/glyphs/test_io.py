"""Model directories: round trip, and clear errors for missing or damaged files."""

import pytest
import torch

from neuroflow import load_vision_model
from neuroflow.glyphs.io import (
    META_FILE,
    check_model_files,
    load_mini_siglip,
    read_meta,
    save_model,
)
from neuroflow.glyphs.model import ModelSize, build_model, build_processor
from neuroflow.glyphs.text import build_tokenizer
from neuroflow.models import ModelNotAvailableError


@pytest.fixture()
def model_dir(tmp_path):
    tok = build_tokenizer(16)
    model = build_model(
        ModelSize(hidden=32, mlp=64, layers=1, heads=2, text_layers=1), len(tok), tok.pad_token_id
    )
    save_model(model, build_processor(tok, 32), tmp_path, {"note": "test"})
    return tmp_path, model


def test_round_trip_in_float16(model_dir):
    path, model = model_dir
    loaded, processor = load_mini_siglip(path)
    assert next(loaded.parameters()).dtype == torch.float32
    assert read_meta(path) == {"note": "test"}
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = model.half().float().vision_model(pixel_values=pixels).pooler_output
        got = loaded.vision_model(pixel_values=pixels).pooler_output
    torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)
    # The vision-tower loader reads the same directory.
    tower = load_vision_model(path)
    with torch.no_grad():
        torch.testing.assert_close(tower(pixels), got, atol=1e-5, rtol=1e-5)
    assert processor.tokenizer("the digit one.", padding="max_length")["input_ids"][-1] == 0


@pytest.mark.parametrize("name", ["model.safetensors", "tokenizer.json", META_FILE])
def test_missing_file_is_named(model_dir, name):
    path, _ = model_dir
    (path / name).unlink()
    with pytest.raises(ModelNotAvailableError, match=name.replace(".", r"\.")):
        load_mini_siglip(path)


def test_damaged_weights_are_named(model_dir):
    path, _ = model_dir
    weights = path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated download or copy
    with pytest.raises(ModelNotAvailableError, match=r"damaged.*model\.safetensors"):
        check_model_files(path)


def test_damaged_json_is_named(model_dir):
    path, _ = model_dir
    (path / "config.json").write_text("{not json")
    with pytest.raises(ModelNotAvailableError, match=r"damaged.*config\.json"):
        load_mini_siglip(path)


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(ModelNotAvailableError, match="does not exist"):
        load_mini_siglip(tmp_path / "nowhere")
