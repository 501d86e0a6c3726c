"""``neuroflow-paper``: the paper's tables, figures and reproduction report from results folders.

neuroflow-paper outputs/eval/runs/<t> outputs/bench/runs/<t> --out paper/
neuroflow-paper experiments outputs --out paper/ --wandb-dir wandb/

Every run of a known kind below the folders is read (evaluation, benchmark, baselines,
distillation, language-model, analysis, moving-glyphs benchmark); items without runs say
"no results given".
"""

from __future__ import annotations

import argparse
import logging
import sys

from neuroflow.paper.collect import collect
from neuroflow.paper.report import regenerate_command, write_report


def main(argv: list[str] | None = None) -> int:
    """Collect the runs and write the report.

    Returns:
        0 on success, 2 when a results folder does not exist (one ``error:`` line).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="folders holding run directories")
    parser.add_argument("--out", default="paper", help="output folder (default: paper)")
    parser.add_argument("--wandb-dir", help="also read the W&B runs below this folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="say why figures are skipped")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s"
    )
    try:
        collected = collect(args.results, wandb_dir=args.wandb_dir)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    files = write_report(
        collected, args.out, regenerate_command(args.results, args.out, args.wandb_dir)
    )
    print(f"{len(collected.runs)} runs read; {len(files['tables'])} table files, "
          f"{len(files['figures'])} figures")  # fmt: skip
    print(files["readme"][0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
