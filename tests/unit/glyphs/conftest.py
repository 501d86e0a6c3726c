"""Fixtures of the glyph tests: a tiny untrained image-text model and its processor."""

from __future__ import annotations

import pytest

from neuroflow.glyphs.model import ModelSize, build_model, build_processor
from neuroflow.glyphs.text import build_tokenizer


@pytest.fixture(scope="module")
def tiny():
    """``(model, processor)``: an untrained 2-layer SigLIP at 32 px with the digit tokenizer."""
    tok = build_tokenizer(16)
    model = build_model(
        ModelSize(hidden=32, mlp=64, layers=2, heads=2, text_layers=1), len(tok), tok.pad_token_id
    ).eval()
    return model, build_processor(tok, 32)
