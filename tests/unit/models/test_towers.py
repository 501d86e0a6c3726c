"""Tower adapters reproduce the HF models exactly, at native and interpolated resolutions."""

import pytest
import torch
from transformers import (
    CLIPVisionConfig,
    CLIPVisionModel,
    SiglipVisionConfig,
    SiglipVisionModel,
    ViTConfig,
    ViTModel,
)

from neuroflow.models import ModelNotAvailableError, load_vision_model, wrap_tower
from neuroflow.models.sources import TINY_KW

TINY = TINY_KW
HF_MODELS = {
    "siglip": lambda: SiglipVisionModel(SiglipVisionConfig(**TINY)),
    # SigLIP 2 FixRes checkpoints use the SigLIP classes with their own norm/activation settings.
    "siglip2": lambda: SiglipVisionModel(
        SiglipVisionConfig(**TINY, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6)
    ),
    "clip": lambda: CLIPVisionModel(CLIPVisionConfig(**TINY)),
    "vit": lambda: ViTModel(ViTConfig(**TINY)),
}


def hf_pooled(hf, pixels):
    native = pixels.shape[-1] == 32
    return hf(pixel_values=pixels, interpolate_pos_encoding=not native).pooler_output


@pytest.mark.parametrize("family", sorted(HF_MODELS))
@pytest.mark.parametrize("size", [32, 48, 24])
def test_tower_forward_equals_hf(family, size):
    hf = HF_MODELS[family]().eval()
    tower = wrap_tower(hf)
    pixels = torch.randn(3, 3, size, size)
    with torch.inference_mode():
        diff = (tower(pixels) - hf_pooled(hf, pixels)).abs().max().item()
    assert diff <= 1e-5


def test_stretch_factor_recorded_up_and_down():
    tower = load_vision_model("tiny-siglip")
    assert tower.embed(torch.zeros(1, 3, 64, 64)).stretch == 2.0
    assert tower.embed(torch.zeros(1, 3, 16, 16)).stretch == 0.5


def test_gate_signal_patch_excludes_position():
    tower = load_vision_model("tiny-clip")
    emb = tower.embed(torch.randn(2, 3, 32, 32))
    assert torch.allclose(
        emb.gate_features("embedding") - emb.gate_features("patch"),
        emb.position.expand(2, -1, -1),
        atol=1e-6,
    )
    assert emb.tokens.shape == (2, 65, 32)  # class token first


def test_local_directory_round_trip(tmp_path):
    tower = load_vision_model("tiny-vit")
    tower.hf.save_pretrained(tmp_path / "vit")
    again = load_vision_model(tmp_path / "vit")
    x = torch.randn(1, 3, 32, 32)
    with torch.inference_mode():
        assert torch.allclose(tower(x), again(x), atol=1e-6)


def test_offline_hub_id_error_says_what_to_download():
    with pytest.raises(ModelNotAvailableError, match="hf download google/siglip-base"):
        load_vision_model("google/siglip-base-patch16-224")


def test_damaged_directory_names_missing_file(tmp_path):
    load_vision_model("tiny-siglip").hf.save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(ModelNotAvailableError, match="model.safetensors"):
        load_vision_model(tmp_path)


def test_unsupported_model_type():
    with pytest.raises(TypeError, match="unsupported vision model"):
        wrap_tower(torch.nn.Linear(2, 2))


def test_input_size_not_multiple_of_patch():
    tower = load_vision_model("tiny-siglip")
    with pytest.raises(ValueError, match="multiple of the patch size"):
        tower.embed(torch.zeros(1, 3, 30, 32))
