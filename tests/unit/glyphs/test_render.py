"""Glyph masks, pasting, colours and backgrounds."""

import numpy as np
import pytest

from neuroflow.glyphs.backgrounds import BackgroundStyle, background, gradient, photo_names
from neuroflow.glyphs.render import (
    DEFAULT_FONT,
    available_fonts,
    contrasting_colour,
    glyph_alpha,
    luminance,
    paste,
)


def test_fonts_include_pil_default():
    fonts = available_fonts()
    assert fonts[-1] == DEFAULT_FONT and len(fonts) >= 1


@pytest.mark.parametrize("font", [available_fonts()[0], DEFAULT_FONT])
@pytest.mark.parametrize("height", [12, 20])
def test_glyph_mask_has_requested_height(font, height):
    for label in range(10):
        alpha = glyph_alpha(label, font, height, 0.0)
        assert alpha.dtype == np.float32 and 0.0 <= alpha.min() and alpha.max() <= 1.0
        assert alpha.max() > 0.9  # solid ink somewhere
        # Digits share the cap height of "8" (within anti-aliasing and descender slack).
        assert abs(alpha.shape[0] - height) <= max(2, height // 5)


def test_stroke_thickens_glyph():
    font = available_fonts()[0]
    thin, thick = glyph_alpha(1, font, 20, 0.0), glyph_alpha(1, font, 20, 1.0)
    assert thick.sum() > thin.sum() * 1.2


def test_glyph_label_out_of_range():
    with pytest.raises(ValueError, match="label"):
        glyph_alpha(10, DEFAULT_FONT, 20, 0.0)


def test_paste_blends_and_clips_at_border():
    canvas = np.zeros((32, 32, 3), np.float32)
    alpha = np.ones((10, 6), np.float32)
    cov = paste(canvas, alpha, (255, 0, 0), (16, 16))
    assert cov.sum() == 60 and canvas[16, 16, 0] == 255 and canvas[16, 16, 1] == 0
    cov = paste(np.zeros((32, 32, 3), np.float32), alpha, (255, 0, 0), (0, 0))
    assert cov.sum() == 5 * 3  # only the bottom-right quarter lands on the canvas
    cov = paste(np.zeros((32, 32, 3), np.float32), alpha, (255, 0, 0), (100, 100))
    assert cov.sum() == 0


def test_contrasting_colour_keeps_luma_gap():
    rng = np.random.default_rng(0)
    for luma in (0.0, 60.0, 128.0, 200.0, 255.0):
        colour = contrasting_colour(rng, luma, 100.0)
        assert abs(float(luminance(np.asarray(colour, np.float32))) - luma) >= 100.0


def test_backgrounds_are_deterministic_and_low_contrast():
    style = BackgroundStyle(blur=1.5, contrast=0.3, gradient_p=0.0)
    a = background(np.random.default_rng(5), "train", 32, style)
    b = background(np.random.default_rng(5), "train", 32, style)
    assert a.shape == (32, 32, 3) and np.array_equal(a, b)
    assert a.std() < 0.3 * 128  # contrast pulled toward the mean
    g = gradient(np.random.default_rng(0), 32)
    assert g.min() >= 0 and g.max() <= 255


def test_heldout_photos_are_disjoint_from_training_photos():
    assert not set(photo_names("train")) & set(photo_names("heldout"))
    with pytest.raises(ValueError, match="split"):
        photo_names("test")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="background style"):
        BackgroundStyle(contrast=0.0)
