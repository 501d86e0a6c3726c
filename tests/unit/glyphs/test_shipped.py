"""The shipped mini SigLIP loads bit-identically offline, reads glyphs, and pools like HF."""

import math
import os
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import SiglipModel

from neuroflow import load_vision_model
from neuroflow.glyphs.dataset import to_pixels
from neuroflow.glyphs.io import SHIPPED_DIR, load_mini_siglip, read_meta
from neuroflow.glyphs.recipe import recipe_from_dict
from neuroflow.glyphs.render import available_fonts
from neuroflow.glyphs.zeroshot_images import (
    heldout_images,
    pixel_stats,
    zero_shot_predictions,
    zero_shot_top1,
)
from neuroflow.models.loading import load_vision_language_model

FEW = 40  # held-out images for the quick zero-shot check (about 1 s on a CPU)


@pytest.fixture(scope="module")
def meta():
    return read_meta(SHIPPED_DIR)


@pytest.fixture(scope="module")
def by_name():
    """The shipped model through the shared loaders, as a user names it."""
    hf, processor = load_vision_language_model("mini_siglip")
    return hf, processor, load_vision_model("mini_siglip")


@pytest.fixture(scope="module")
def few_heldout(meta):
    """The first images of the held-out set, rendered by the package's own renderer."""
    return heldout_images(FEW, recipe_from_dict(meta["recipe"]).data)


def test_shipped_files_are_small():
    total = sum(f.stat().st_size for f in SHIPPED_DIR.iterdir())
    assert total < 4_000_000


def test_weights_load_bit_identically(by_name):
    hf, processor, tower = by_name
    assert isinstance(hf, SiglipModel) and processor.tokenizer.model_max_length == 16
    stored = load_file(SHIPPED_DIR / "model.safetensors")
    loaded = hf.state_dict()
    assert set(stored) <= set(loaded) and len(stored) > 50
    for name, value in stored.items():  # float16 -> float32 is exact
        assert value.dtype == torch.float16
        assert torch.equal(loaded[name], value.float()), name
    prefix = "vision_model."
    vision = {k.removeprefix(prefix): v for k, v in stored.items() if k.startswith(prefix)}
    in_tower = tower.hf.state_dict()
    assert set(vision) == set(in_tower)
    for name, value in vision.items():
        assert torch.equal(in_tower[name], value.float()), name
    direct, _ = load_mini_siglip()
    for (name, a), b in zip(direct.state_dict().items(), loaded.values(), strict=True):
        assert torch.equal(a, b), name


def test_zero_shot_reads_rendered_heldout_glyphs(by_name, meta, few_heldout):
    hf, processor, _ = by_name
    images, labels = few_heldout
    assert len(set(labels.tolist())) >= 5  # not a one-class sample
    num_classes = len(meta["class_names"])
    pred = zero_shot_predictions(hf, processor, images, num_classes)
    assert len(set(pred.tolist())) >= 5  # not a constant answer
    acc = float((pred == torch.as_tensor(labels)).float().mean())
    assert acc >= 0.8, f"zero-shot top-1 {acc:.3f} on {FEW} held-out glyph images"


def test_tower_pools_like_hf_on_glyph_images(by_name, few_heldout):
    hf, processor, tower = by_name
    pixels = to_pixels(few_heldout[0][:8], *pixel_stats(processor))
    with torch.no_grad():
        ref = hf.vision_model(pixel_values=pixels).pooler_output
        got = tower(pixels)
        image_features = hf.get_image_features(pixel_values=pixels).pooler_output
    assert ref.shape == (8, hf.config.vision_config.hidden_size) and ref.abs().max() > 0
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(image_features, ref, atol=1e-6, rtol=1e-6)


# Held-out accuracy floor on images drawn with fonts other than the training machine's set
# (each one is among the training fonts; measured: 0.997 with PIL's built-in font alone).
OTHER_FONTS_FLOOR = 0.95


def heldout_accuracy(by_name, meta) -> tuple[float, int]:
    """Zero-shot top-1 of the shipped model on the first held-out check images, and their count."""
    hf, processor, _ = by_name
    recipe = recipe_from_dict(meta["recipe"])
    n = meta["heldout"]["check_count"]
    images, labels = heldout_images(n, recipe.data)
    return zero_shot_top1(hf, processor, images, labels, recipe.data.spec.num_classes), n


def assert_other_fonts_classify(by_name, meta) -> None:
    """Fonts differ from training: the images differ, so no recorded number applies; every
    font must still be a training font, and the model must still read the digits."""
    fonts = [Path(f).name for f in available_fonts()]
    assert set(fonts) <= set(meta["fonts"]), "a font the model never saw in training"
    acc, _ = heldout_accuracy(by_name, meta)
    assert acc >= OTHER_FONTS_FLOOR


def test_reload_offline_gives_recorded_accuracy(by_name, meta):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"  # set by tests/conftest.py
    if [Path(f).name for f in available_fonts()] != meta["fonts"]:
        assert_other_fonts_classify(by_name, meta)  # see docs/mini_siglip.md
        return
    held = meta["heldout"]
    acc, n = heldout_accuracy(by_name, meta)
    # Same images, same float16 weights read back as float32: only a different BLAS
    # summation order can flip a borderline prediction, so allow one image.
    assert abs(acc - held["check_top1"]) <= 1 / n + 1e-9
    # The check images are the first n of the full held-out set: their accuracy is a
    # sample of the recorded full-set accuracy, within 3 binomial standard errors.
    p = held["top1"]
    assert abs(acc - p) <= 3 * math.sqrt(p * (1 - p) / n) + 1 / n


def test_a_machine_with_other_fonts_still_checks_the_model(by_name, meta, monkeypatch):
    import neuroflow.glyphs.dataset as dataset
    import neuroflow.glyphs.render as render

    only_builtin = lambda: (render.DEFAULT_FONT,)  # noqa: E731 (a machine without DejaVu)
    monkeypatch.setattr(dataset, "available_fonts", only_builtin)
    monkeypatch.setattr(sys.modules[__name__], "available_fonts", only_builtin)
    assert_other_fonts_classify(by_name, meta)
