"""A short re-training run through the CLI proves the recipe learns (toy sizes, seconds)."""

import json

import pytest

from neuroflow.cli.train_mini import build_recipe, main, parse_args
from neuroflow.glyphs.io import META_FILE, REQUIRED_FILES, load_mini_siglip
from neuroflow.glyphs.recipe import Recipe, tiny_recipe


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mini")
    assert main(["--quick", "--out", str(out)]) == 0
    return out, json.loads((out / META_FILE).read_text())


def test_quick_run_learns(quick_run):
    _, meta = quick_run
    loss = meta["loss"]
    assert loss["ce_last"] < 0.7 * loss["ce_first"]
    assert loss["sigmoid_last"] < 0.7 * loss["sigmoid_first"]
    held = meta["heldout"]
    # 3 classes (chance 1/3) on 192 held-out images: 0.5 is > 5 binomial SE above chance.
    assert held["count"] == 192 and held["top1"] > 0.5


def test_quick_run_writes_a_loadable_directory(quick_run):
    out, meta = quick_run
    assert all((out / name).is_file() for name in REQUIRED_FILES)
    model, processor = load_mini_siglip(out)
    assert model.config.vision_config.patch_size == 8
    assert processor.tokenizer.model_max_length == 16
    assert meta["recipe"]["ce"]["steps"] == 150 and meta["command"].startswith(
        "neuroflow-train-mini --quick"
    )
    assert meta["timings_s"]["train_total"] > 0


def test_options_override_the_recipe():
    args = parse_args(
        [
            "--ce-steps",
            "7",
            "--sigmoid-steps",
            "3",
            "--train-images",
            "99",
            "--threads",
            "1",
            "--seed",
            "5",
        ]
    )
    recipe = build_recipe(args)
    assert (recipe.ce.steps, recipe.sigmoid.steps, recipe.train_images) == (7, 3, 99)
    assert recipe.seed == 5 and recipe.threads == 1
    assert build_recipe(parse_args([])) == Recipe()
    assert build_recipe(parse_args(["--quick"])) == tiny_recipe()
    with pytest.raises(SystemExit):
        parse_args(["--ship", "--out", "x"])
