"""What the training commands of shipped models share: where the output goes, JSON progress.

``neuroflow-train-mini`` and ``neuroflow-train-lm`` each write a model directory: a new run
directory by default, ``--out DIR``, or ``--ship`` (the copy inside the package).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path


def add_output_options(parser: argparse.ArgumentParser, shipped: Path, default: str) -> None:
    """``--out DIR`` or ``--ship`` (mutually exclusive)."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--out", type=Path, help=f"output directory (default: a new run dir under {default}/)"
    )
    where.add_argument(
        "--ship", action="store_true", help=f"write to the shipped model directory {shipped}"
    )


def output_dir(args: argparse.Namespace, shipped: Path, default: str) -> Path:
    """The directory the options name (a timestamped one under ``default`` when none)."""
    if args.ship:
        return shipped
    if args.out is not None:
        return args.out
    return Path(default) / time.strftime("%Y%m%d-%H%M%S")


def command_line(prog: str, argv: list[str] | None) -> str:
    """The command as typed (recorded in the model's metadata)."""
    return shlex.join([prog, *(argv if argv is not None else sys.argv[1:])])


def print_record(record: dict) -> None:
    """One progress record as a JSON line, floats rounded to 4 places."""
    rounded = {k: round(v, 4) if isinstance(v, float) else v for k, v in record.items()}
    print(json.dumps(rounded), flush=True)
