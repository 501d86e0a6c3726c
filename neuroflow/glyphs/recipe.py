"""The whole mini-SigLIP recipe in one call: data, both stages, save, reload, measure.

:func:`run_recipe` renders the training pool, builds tokenizer and model, runs the
cross-entropy warm start and the sigmoid stage, saves the directory, reloads it through the
public loader and measures held-out zero-shot top-1 on the reloaded weights; the
measurement, timings and the recipe itself go into the directory's metadata JSON.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import transformers

from neuroflow.glyphs.backgrounds import BackgroundStyle
from neuroflow.glyphs.dataset import DataConfig, GlyphSpec, render_set
from neuroflow.glyphs.io import save_model, write_meta
from neuroflow.glyphs.render import CLASS_NAMES, available_fonts
from neuroflow.glyphs.text import TEMPLATES, build_tokenizer, longest_caption
from neuroflow.glyphs.train import StageConfig, train_ce, train_sigmoid
from neuroflow.glyphs.zeroshot_images import HELDOUT_SEED, heldout_images, zero_shot_top1
from neuroflow.models.mini_siglip import ModelSize, build_model, build_processor, load_mini_siglip


@dataclass(frozen=True)
class Recipe:
    """Everything that defines a mini-SigLIP training run.

    Attributes:
        seed: Seed of the training pool, initialisation and batch order.
        size: Model sizes.
        data: Glyph geometry and background style (train and held-out alike).
        train_images: Size of the pre-rendered training pool.
        heldout_images: Held-out images for the recorded accuracy.
        check_images: Leading held-out images whose accuracy is also recorded (the fast
            reload test recomputes it).
        ce: Cross-entropy warm-start stage.
        sigmoid: Sigmoid image-text stage.
        workers: Rendering processes.
        threads: Torch intra-op threads.
    """

    seed: int = 0
    size: ModelSize = field(default_factory=ModelSize)
    data: DataConfig = field(default_factory=DataConfig)
    train_images: int = 60000
    heldout_images: int = 2000
    check_images: int = 300
    ce: StageConfig = field(default_factory=lambda: StageConfig(steps=1800, lr=1e-3, warmup=50))
    sigmoid: StageConfig = field(
        default_factory=lambda: StageConfig(steps=400, lr=1e-3, warmup=30, vision_lr=1e-4)
    )
    workers: int = 2
    threads: int = 2


def tiny_recipe(seed: int = 0) -> Recipe:
    """A seconds-long recipe at toy sizes (tests, ``--quick``).

    3 classes, patch 8 (16 tokens), 2-layer width-32 towers, a few hundred steps: it proves
    the pipeline learns (held-out accuracy well above 1/3), not that the sizes are useful.
    """
    return Recipe(
        seed=seed,
        size=ModelSize(patch_size=8, hidden=32, mlp=64, layers=2, heads=2, text_layers=1),
        data=DataConfig(spec=GlyphSpec(num_classes=3, max_shift=(2, 2))),
        train_images=768,
        heldout_images=192,
        check_images=64,
        ce=StageConfig(steps=150, lr=3e-3, warmup=5, batch=64),
        sigmoid=StageConfig(steps=60, lr=3e-3, warmup=3, batch=64, vision_lr=3e-4),
        workers=1,
        threads=1,
    )


def recipe_from_dict(data: dict) -> Recipe:
    """Rebuild a :class:`Recipe` from its ``asdict`` form (e.g. the metadata JSON)."""

    def tuples(d: dict) -> dict:
        return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}

    glyph = DataConfig(
        spec=GlyphSpec(**tuples(data["data"]["spec"])),
        style=BackgroundStyle(**tuples(data["data"]["style"])),
    )
    plain = {k: v for k, v in data.items() if k not in ("size", "data", "ce", "sigmoid")}
    return Recipe(
        **plain,
        size=ModelSize(**data["size"]),
        data=glyph,
        ce=StageConfig(**data["ce"]),
        sigmoid=StageConfig(**data["sigmoid"]),
    )


def _versions() -> dict:
    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
    }


def run_recipe(
    recipe: Recipe,
    out_dir: str | Path,
    log: Callable[[dict], None] | None = None,
    command: str = "",
) -> dict:
    """Train, save to ``out_dir``, reload and measure; returns the metadata written.

    Args:
        recipe: The run definition.
        out_dir: Directory to (over)write.
        log: Receives progress records (stage, step, loss, seconds, ...).
        command: The command line, recorded in the metadata.
    """
    log = log or (lambda record: None)
    torch.set_num_threads(recipe.threads)
    num_classes = recipe.data.spec.num_classes
    t0, cpu0 = time.perf_counter(), time.process_time()
    pool, labels = render_set(
        recipe.train_images, "train", recipe.seed, recipe.data, workers=recipe.workers
    )
    render_s = time.perf_counter() - t0
    log({"stage": "render", "images": len(pool), "seconds": render_s})

    tokenizer = build_tokenizer(recipe.size.max_length)
    if longest_caption(tokenizer) >= recipe.size.max_length:
        raise ValueError("captions must be shorter than max_length (SigLIP pools the last slot)")
    model = build_model(recipe.size, len(tokenizer), tokenizer.pad_token_id, seed=recipe.seed)
    t1 = time.perf_counter()
    ce_loss = train_ce(model.vision_model, pool, labels, num_classes, recipe.ce, recipe.seed, log)
    t2 = time.perf_counter()
    sig_loss = train_sigmoid(model, tokenizer, pool, labels, recipe.sigmoid, recipe.seed + 1, log)
    t3 = time.perf_counter()

    meta = {
        "recipe": asdict(recipe),
        "command": command,
        "versions": _versions(),
        "fonts": [Path(f).name for f in available_fonts()],
        "class_names": list(CLASS_NAMES),
        "templates": list(TEMPLATES),
        "parameters": sum(p.numel() for p in model.parameters()),
        "timings_s": {
            "render": round(render_s, 1),
            "ce": round(t2 - t1, 1),
            "sigmoid": round(t3 - t2, 1),
            "train_total": round(t3 - t0, 1),
            "train_process_cpu": round(time.process_time() - cpu0, 1),
        },
        "loss": {
            "ce_first": _mean(ce_loss[:20]),
            "ce_last": _mean(ce_loss[-20:]),
            "sigmoid_first": _mean(sig_loss[:20]),
            "sigmoid_last": _mean(sig_loss[-20:]),
        },
    }
    save_model(model, build_processor(tokenizer, recipe.size.image_size), out_dir, meta)
    meta["heldout"] = measure(out_dir, recipe)
    meta["timings_s"]["total_with_eval"] = round(time.perf_counter() - t0, 1)
    write_meta(out_dir, meta)
    log({"stage": "done", **meta["heldout"], "seconds": time.perf_counter() - t0})
    return meta


def _mean(values: list[float]) -> float:
    return round(float(np.mean(values)), 4) if values else float("nan")


def measure(out_dir: str | Path, recipe: Recipe) -> dict:
    """Held-out zero-shot top-1 of the *saved* model (reloaded as the user would)."""
    model, processor = load_mini_siglip(out_dir)
    images, labels = heldout_images(recipe.heldout_images, recipe.data, workers=recipe.workers)
    n_cls = recipe.data.spec.num_classes
    check = recipe.check_images
    return {
        "seed": HELDOUT_SEED,
        "count": int(len(labels)),
        "split": "heldout",
        "top1": round(zero_shot_top1(model, processor, images, labels, n_cls), 4),
        "top1_single_template": round(
            zero_shot_top1(model, processor, images, labels, n_cls, TEMPLATES[:1]), 4
        ),
        "check_count": check,
        "check_top1": round(
            zero_shot_top1(model, processor, images[:check], labels[:check], n_cls), 4
        ),
    }
