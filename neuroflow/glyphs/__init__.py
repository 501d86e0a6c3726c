"""Training data, recipe and moving-glyphs benchmark of the mini SigLIP (research tooling).

The model itself (HF config, word-level tokenizer, processor, loading and checking a model
directory) is in :mod:`neuroflow.models.mini_siglip` and loads as the model source
``"mini_siglip"``; the names below are re-exported for convenience.

* :mod:`~neuroflow.glyphs.dataset` renders digit glyphs on real-photo or gradient
  backgrounds (image-text data, deterministic from a seed);
* :mod:`~neuroflow.glyphs.text` holds the captions and the vocabulary built from them;
* :mod:`~neuroflow.glyphs.recipe` trains the model (cross-entropy warm start, then the
  sigmoid stage) and saves it (:mod:`~neuroflow.glyphs.io`);
* :mod:`~neuroflow.glyphs.clips` makes the moving-glyphs clips with ground-truth motion;
  :mod:`~neuroflow.glyphs.report` evaluates dense, Arch C and random keep on them.
"""

from neuroflow.glyphs.clips import ClipSet, ClipSpec, make_clips
from neuroflow.glyphs.dataset import DataConfig, GlyphSpec, render_set, to_pixels
from neuroflow.glyphs.recipe import Recipe, run_recipe, tiny_recipe
from neuroflow.glyphs.render import CLASS_NAMES
from neuroflow.glyphs.text import TEMPLATES, build_tokenizer
from neuroflow.models.mini_siglip import (
    SHIPPED_DIR,
    ModelSize,
    build_model,
    build_processor,
    check_model_files,
    load_mini_siglip,
    read_meta,
)

__all__ = [
    "CLASS_NAMES",
    "SHIPPED_DIR",
    "TEMPLATES",
    "ClipSet",
    "ClipSpec",
    "DataConfig",
    "GlyphSpec",
    "ModelSize",
    "Recipe",
    "build_model",
    "build_processor",
    "build_tokenizer",
    "check_model_files",
    "load_mini_siglip",
    "make_clips",
    "read_meta",
    "render_set",
    "run_recipe",
    "tiny_recipe",
    "to_pixels",
]
