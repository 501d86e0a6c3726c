"""Fixtures of the probe tests: a tiny SigLIP tower, tiny clips, a tiny image-text model."""

from __future__ import annotations

import pytest
import torch

from neuroflow.eval.zeroshot import build_classifier
from neuroflow.glyphs.model import ModelSize, build_model, build_processor
from neuroflow.glyphs.render import CLASS_NAMES
from neuroflow.glyphs.text import TEMPLATES, build_tokenizer
from neuroflow.models import load_vision_model, wrap_tower
from tests.helpers import moving_square_clip


@pytest.fixture(scope="module")
def tower():
    """The random 2-layer ``tiny-siglip`` tower (32 px, 4 px patches: 64 patches)."""
    return load_vision_model("tiny-siglip")


@pytest.fixture(scope="module")
def moving():
    """``[3, 4, 3, 32, 32]``: a static random background and one moving square per clip."""
    return moving_square_clip(frames=4, batch=3).transpose(0, 1).contiguous()


@pytest.fixture(scope="module")
def static():
    """``[2, 4, 3, 32, 32]``: one random frame per clip, repeated."""
    frame = torch.rand(2, 1, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    return frame.repeat(1, 4, 1, 1, 1)


@pytest.fixture(scope="module")
def joint():
    """``(model, tower, classifier)``: an untrained 2-layer mini SigLIP at 32 px with its
    digit-name zero-shot classifier (one template)."""
    tok = build_tokenizer(16)
    size = ModelSize(hidden=32, mlp=64, layers=2, heads=2, text_layers=1)
    model = build_model(size, len(tok), tok.pad_token_id).eval()
    classifier = build_classifier(model, build_processor(tok, 32), CLASS_NAMES, TEMPLATES[:1])
    return model, wrap_tower(model), classifier
