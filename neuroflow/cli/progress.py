"""One rich progress bar for the commands that walk a known list of steps."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def progress_bar(title: str, total: int) -> Iterator[Callable[[str], None]]:
    """A rich progress bar; the yielded function starts the next step under a label."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), transient=False) as progress:
        task = progress.add_task(title, total=total)
        first = True

        def advance(label: str) -> None:
            nonlocal first
            progress.update(task, advance=0 if first else 1, description=f"{title}: {label}")
            first = False

        yield advance
        progress.update(task, completed=total, description=f"{title}: done")
