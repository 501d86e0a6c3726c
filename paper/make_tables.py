"""Turn a sweep's or experiment's run directories into tables (CSV, Markdown, LaTeX).

python paper/make_tables.py outputs/t6_saturation_sweep --out paper/tables --name t6

Evaluation runs go to ``<name>.*``, benchmark runs to ``<name>_bench.*``, the language-model
ablation's tables to ``<name>_llm_<table>.*``; one row per run identity (runs that differ in
anything that defines them never share a row).
"""

from __future__ import annotations

import argparse
import sys

from neuroflow.reporting import collect_tables, write_tables

# Benchmark tables get their own files: their rows are timings, not accuracies.
SUFFIX = {"eval": "", "bench": "_bench"}


def main(argv: list[str] | None = None) -> int:
    """Collect the runs below ``root`` and write one table per run kind.

    Returns:
        0 on success, 2 when no finished run lies below ``root`` (one ``error:`` line).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="folder holding run directories with results.json")
    parser.add_argument("--out", default="paper/tables", help="output folder")
    parser.add_argument("--name", default="table", help="file stem of the tables")
    args = parser.parse_args(argv)
    try:
        tables = collect_tables(args.root)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for kind, frame in tables.items():
        for path in write_tables(frame, args.out, args.name + SUFFIX.get(kind, f"_{kind}")):
            print(path)
        print(f"\n{kind} ({len(frame)} rows)\n{frame.to_markdown(floatfmt='.3f')}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
