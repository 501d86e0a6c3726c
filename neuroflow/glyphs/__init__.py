"""The mini SigLIP and the moving-glyphs benchmark: offline, trained by the project.

* :mod:`~neuroflow.glyphs.dataset` renders digit glyphs on real-photo or gradient
  backgrounds (image-text data, deterministic from a seed);
* :mod:`~neuroflow.glyphs.text` / :mod:`~neuroflow.glyphs.model` build the word-level
  tokenizer and the small HF ``SiglipModel``;
* :mod:`~neuroflow.glyphs.recipe` trains it (cross-entropy warm start, then the sigmoid
  stage) and saves it; :mod:`~neuroflow.glyphs.io` loads and checks a model directory;
* :mod:`~neuroflow.glyphs.clips` makes the moving-glyphs clips with ground-truth motion;
  :mod:`~neuroflow.glyphs.report` evaluates dense, Arch C and random keep on them.
"""

from neuroflow.glyphs.clips import ClipSet, ClipSpec, make_clips
from neuroflow.glyphs.dataset import DataConfig, GlyphSpec, render_set, to_pixels
from neuroflow.glyphs.io import SHIPPED_DIR, check_model_files, load_mini_siglip, read_meta
from neuroflow.glyphs.model import ModelSize, build_model, build_processor
from neuroflow.glyphs.recipe import Recipe, run_recipe, tiny_recipe
from neuroflow.glyphs.render import CLASS_NAMES
from neuroflow.glyphs.text import TEMPLATES, build_tokenizer

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
