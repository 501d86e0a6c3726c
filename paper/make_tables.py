"""Turn a sweep's or experiment's run directories into one table (CSV, Markdown, LaTeX).

python paper/make_tables.py outputs/t6_saturation_sweep --out paper/tables --name t6
"""

from __future__ import annotations

import argparse

from neuroflow.reporting import collect_runs, write_tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="folder holding run directories with results.json")
    parser.add_argument("--out", default="paper/tables", help="output folder")
    parser.add_argument("--name", default="table", help="file stem of the tables")
    args = parser.parse_args()
    frame = collect_runs(args.root)
    for path in write_tables(frame, args.out, args.name):
        print(path)
    print(frame.to_markdown(floatfmt=".3f"))


if __name__ == "__main__":
    main()
