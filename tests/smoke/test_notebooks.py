"""Every notebook (jupytext percent script in notebooks/) runs offline, as a notebook and as a
script; figures come out inline."""

import runpy
import sys
from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.py"))
# A cell that draws with matplotlib must leave an inline PNG in the executed notebook.
DRAWS = ("plt.", "matplotlib")
# What a notebook must print and the files it must write (in its working directory).
EXPECTED = {
    "walkthrough": (("frame 7", "with every token kept"), ("walkthrough_masks.png",)),
}


@pytest.fixture
def python3_kernel(tmp_path, monkeypatch):
    """The "python3" kernel, pinned to this interpreter (so to this virtual environment).

    jupyter_client already swaps a spec's bare ``python`` for ``sys.executable``, but a
    user-level ``python3`` spec (``~/.local/share/jupyter``) wins over the environment's, and
    may name another Python. ``JUPYTER_PATH`` is searched first: a spec written there for
    ``sys.executable`` decides. ``MPLBACKEND`` is dropped so the kernel draws inline.
    """
    from ipykernel.kernelspec import write_kernel_spec

    write_kernel_spec(tmp_path / "jupyter" / "kernels" / "python3")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WANDB_MODE", "disabled")
    return "python3"


def execute(path: Path, cwd: Path, kernel: str):
    nb = jupytext.read(path)
    client = NotebookClient(
        nb, kernel_name=kernel, timeout=600, resources={"metadata": {"path": str(cwd)}}
    )
    client.execute()
    return nb


def outputs(nb, output_type: str) -> list:
    return [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o["output_type"] == output_type
    ]


def test_kernel_is_this_interpreter(tmp_path, python3_kernel):
    import nbformat

    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import sys; print(sys.prefix)")]
    )
    NotebookClient(nb, kernel_name=python3_kernel, timeout=120).execute()
    assert outputs(nb, "stream")[0]["text"].strip() == sys.prefix


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_executes_with_inline_figures(path, tmp_path, python3_kernel):
    nb = execute(path, tmp_path, python3_kernel)
    assert not outputs(nb, "error")  # execute() raises on an error; belt and braces
    draws = any(w in c.source for c in nb.cells if c.cell_type == "code" for w in DRAWS)
    images = [o for o in outputs(nb, "display_data") if "image/png" in o.get("data", {})]
    if draws:
        assert images, f"{path.name} draws a figure but no inline image/png came out"
    printed, files = EXPECTED.get(path.stem, ((), ()))
    text = "".join(o["text"] for o in outputs(nb, "stream") if o["name"] == "stdout")
    assert all(p in text for p in printed), text[-2000:]
    assert all((tmp_path / f).stat().st_size > 1000 for f in files)


def test_walkthrough_runs_as_a_script(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MPLBACKEND", raising=False)
    runpy.run_path(str(NOTEBOOKS / "walkthrough.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "frame 7" in out and "with every token kept" in out
    assert (tmp_path / "walkthrough_masks.png").stat().st_size > 1000
