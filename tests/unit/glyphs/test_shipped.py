"""The shipped mini SigLIP reloads offline and reproduces its recorded held-out accuracy."""

import math
import os
from pathlib import Path

import pytest
import torch
from transformers import SiglipModel

from neuroflow import load_vision_model
from neuroflow.glyphs.io import SHIPPED_DIR, load_mini_siglip, read_meta
from neuroflow.glyphs.recipe import recipe_from_dict
from neuroflow.glyphs.render import available_fonts
from neuroflow.glyphs.zeroshot_images import heldout_images, zero_shot_top1
from neuroflow.models.loading import load_vision_language_model


@pytest.fixture(scope="module")
def shipped():
    meta = read_meta(SHIPPED_DIR)
    if [Path(f).name for f in available_fonts()] != meta["fonts"]:
        pytest.skip(
            "this machine has other fonts than the training machine: the held-out "
            "images would differ (see docs/mini_siglip.md)"
        )
    model, processor = load_mini_siglip()
    return meta, model, processor


def test_shipped_files_are_small():
    total = sum(f.stat().st_size for f in SHIPPED_DIR.iterdir())
    assert total < 4_000_000


def test_recorded_accuracy_meets_the_bar(shipped):
    meta, _, _ = shipped
    assert meta["heldout"]["top1"] >= 0.90 and meta["heldout"]["count"] >= 1000


def test_reload_offline_gives_recorded_accuracy(shipped):
    assert os.environ.get("HF_HUB_OFFLINE") == "1"  # set by tests/conftest.py
    meta, model, processor = shipped
    held = meta["heldout"]
    recipe = recipe_from_dict(meta["recipe"])
    n = held["check_count"]
    images, labels = heldout_images(n, recipe.data)
    acc = zero_shot_top1(model, processor, images, labels, recipe.data.spec.num_classes)
    # Same images, same float16 weights read back as float32: only a different BLAS
    # summation order can flip a borderline prediction, so allow one image.
    assert abs(acc - held["check_top1"]) <= 1 / n + 1e-9
    # The check images are the first n of the full held-out set: their accuracy is a
    # sample of the recorded full-set accuracy, within 3 binomial standard errors.
    p = held["top1"]
    assert abs(acc - p) <= 3 * math.sqrt(p * (1 - p) / n) + 1 / n


def test_loadable_by_name_through_the_shared_loaders(shipped):
    _, model, _ = shipped
    hf, processor = load_vision_language_model("mini_siglip")
    assert isinstance(hf, SiglipModel) and processor.tokenizer.model_max_length == 16
    tower = load_vision_model("mini_siglip")
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = model.vision_model(pixel_values=pixels).pooler_output
        torch.testing.assert_close(tower(pixels), ref, atol=1e-5, rtol=1e-5)
