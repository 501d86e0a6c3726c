"""``neuroflow-train-lm``: train the mini causal LM (corpus, BPE, Phi-3 model) in one command.

Examples::

    neuroflow-train-lm                        # outputs/mini_lm/<time>/
    neuroflow-train-lm --out /tmp/lm          # any directory
    neuroflow-train-lm --ship                 # overwrite neuroflow/assets/mini_lm/
    neuroflow-train-lm --quick --out /tmp/q   # toy sizes, seconds: checks the pipeline
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from neuroflow.cli.shipping import add_output_options, command_line, output_dir, print_record
from neuroflow.llm.loading import MINI_LM_DIR as SHIPPED_DIR
from neuroflow.llm.train import LMRecipe, run_recipe, tiny_recipe


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="neuroflow-train-lm", description=__doc__.split("\n")[0])
    add_output_options(parser, SHIPPED_DIR, "outputs/mini_lm")
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--quick", action="store_true", help="toy sizes (pipeline check only)")
    parser.add_argument("--steps", type=int, help="override the training steps")
    parser.add_argument("--threads", type=int, help="torch threads (default 2)")
    return parser.parse_args(argv)


def build_recipe(args: argparse.Namespace) -> LMRecipe:
    """The recipe the options describe (the default recipe made the shipped model)."""
    recipe = tiny_recipe(args.seed) if args.quick else LMRecipe(seed=args.seed)
    if args.steps is not None:
        recipe = replace(recipe, optim=replace(recipe.optim, steps=args.steps))
    if args.threads is not None:
        recipe = replace(recipe, threads=args.threads)
    return recipe


def main(argv: list[str] | None = None) -> int:
    """Run the recipe and print held-out perplexity per domain; returns the exit code."""
    args = parse_args(argv)
    out = output_dir(args, SHIPPED_DIR, "outputs/mini_lm")
    command = command_line("neuroflow-train-lm", argv)
    meta = run_recipe(build_recipe(args), out, log=print_record, command=command)
    ppl = ", ".join(f"{d} {v:.2f}" for d, v in meta["heldout_ppl"].items())
    print(
        f"saved {out}: held-out perplexity {ppl} "
        f"(params {meta['params']}, train {meta['timings_s']['train']:.0f} s)",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
