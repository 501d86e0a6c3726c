"""``neuroflow-train-mini``: train the mini SigLIP (all stages, fixed seed) in one command.

Examples::

    neuroflow-train-mini                       # outputs/mini_siglip/<time>/
    neuroflow-train-mini --out /tmp/mini       # any directory
    neuroflow-train-mini --ship                # overwrite neuroflow/assets/mini_siglip/
    neuroflow-train-mini --quick --out /tmp/q  # toy sizes, seconds: checks the pipeline
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from neuroflow.cli.shipping import add_output_options, command_line, output_dir, print_record
from neuroflow.glyphs.io import SHIPPED_DIR
from neuroflow.glyphs.recipe import Recipe, run_recipe, tiny_recipe


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="neuroflow-train-mini", description=__doc__.split("\n")[0]
    )
    add_output_options(parser, SHIPPED_DIR, "outputs/mini_siglip")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--quick", action="store_true", help="toy sizes (pipeline check only)")
    parser.add_argument("--ce-steps", type=int, help="override the warm-start steps")
    parser.add_argument("--sigmoid-steps", type=int, help="override the sigmoid-stage steps")
    parser.add_argument("--train-images", type=int, help="override the training-pool size")
    parser.add_argument("--threads", type=int, help="torch threads (default 2)")
    parser.add_argument("--workers", type=int, help="rendering processes (default 2)")
    return parser.parse_args(argv)


def build_recipe(args: argparse.Namespace) -> Recipe:
    """The recipe the options describe (the default recipe made the shipped weights)."""
    recipe = tiny_recipe(args.seed) if args.quick else Recipe(seed=args.seed)
    if args.ce_steps is not None:
        recipe = replace(recipe, ce=replace(recipe.ce, steps=args.ce_steps))
    if args.sigmoid_steps is not None:
        recipe = replace(recipe, sigmoid=replace(recipe.sigmoid, steps=args.sigmoid_steps))
    for name in ("train_images", "threads", "workers"):
        if getattr(args, name) is not None:
            recipe = replace(recipe, **{name: getattr(args, name)})
    return recipe


def main(argv: list[str] | None = None) -> int:
    """Run the recipe and print the held-out accuracy; returns the exit code."""
    args = parse_args(argv)
    out = output_dir(args, SHIPPED_DIR, "outputs/mini_siglip")
    command = command_line("neuroflow-train-mini", argv)
    meta = run_recipe(build_recipe(args), out, log=print_record, command=command)
    held = meta["heldout"]
    print(
        f"saved {out}: held-out zero-shot top-1 {held['top1']:.4f} on {held['count']} images "
        f"(train {meta['timings_s']['train_total']:.0f} s)",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
