"""Every notebook (jupytext percent script in notebooks/) runs offline as a notebook, its
figures inline and its own assertions passing; the walkthrough also runs as a script.

The notebooks share one kernel, started once per module: starting a kernel and importing
torch and transformers in it costs more than most notebooks' own work. Each notebook still
runs top to bottom in an empty namespace (``%reset -f``) and in its own working directory;
only process-wide state (imported modules, torch's thread count) carries over.
"""

import runpy
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from jupyter_core.utils import run_sync
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.py"))
# A cell that draws with matplotlib must leave an inline PNG in the executed notebook.
DRAWS = ("plt.", "matplotlib")
# What a notebook must print and the files it must write (in its working directory).
EXPECTED = {
    "walkthrough": (("frame 7", "with every token kept"), ("walkthrough_masks.png",)),
    "gate_on_a_clip": (
        ("keep the same patches on every frame: True", "precision"),
        ("gate_on_a_clip_street.png", "gate_on_a_clip_keep.png", "gate_on_a_clip_glyph.png"),
    ),
    "sparsity_sweep": (
        ("random keep", "Arch C minus random keep"),
        ("sparsity_sweep_pareto.png",),
    ),
    "content_change": (
        ("unrefreshed slots alone", "contextual_incompatibility"),
        ("content_change_curves.png", "content_change_clip.png"),
    ),
}
# Run once when the shared kernel starts: the heavy imports (the notebooks import them again,
# for free) and matplotlib's first drawing (its font set-up).
WARM_UP = """\
import matplotlib.pyplot as plt
import pandas, torch, transformers
import neuroflow.analysis.trace, neuroflow.glyphs.benchmark, neuroflow.models.mini_siglip
plt.figure().canvas.draw()
plt.close("all")
"""

# The first cell of every notebook on the shared kernel: empty namespace, own directory.
FRESH_START = """\
%reset -f
import os
import matplotlib.pyplot
os.chdir({cwd!r})
matplotlib.pyplot.close("all")
"""


def pin_python3_kernel(root: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Make the "python3" kernel this interpreter (so this virtual environment).

    jupyter_client already swaps a spec's bare ``python`` for ``sys.executable``, but a
    user-level ``python3`` spec (``~/.local/share/jupyter``) wins over the environment's, and
    may name another Python. ``JUPYTER_PATH`` is searched first: a spec written there for
    ``sys.executable`` decides. ``MPLBACKEND`` is dropped so the kernel draws inline.
    """
    from ipykernel.kernelspec import write_kernel_spec

    write_kernel_spec(root / "jupyter" / "kernels" / "python3")
    monkeypatch.setenv("JUPYTER_PATH", str(root / "jupyter"))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WANDB_MODE", "disabled")
    return "python3"


@pytest.fixture
def python3_kernel(tmp_path, monkeypatch):
    """The pinned "python3" kernel name (see :func:`pin_python3_kernel`)."""
    return pin_python3_kernel(tmp_path, monkeypatch)


@pytest.fixture(scope="module")
def shared_kernel(tmp_path_factory):
    """One started kernel for every notebook of the module, warmed up with the heavy imports."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        name = pin_python3_kernel(tmp_path_factory.mktemp("kernel"), monkeypatch)
        warm = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(WARM_UP)])
        host = NotebookClient(warm, kernel_name=name, timeout=600)
        host.km = host.create_kernel_manager()
        host.start_new_kernel()
        try:
            run(warm, host.km, name)
            yield host.km, name
        finally:
            run_sync(host.km.shutdown_kernel)(now=True)


def run(nb, km, kernel: str) -> None:
    """Execute ``nb`` on the running kernel of ``km`` (left running)."""
    client = NotebookClient(nb, km=km, kernel_name=kernel, timeout=600)
    try:
        client.execute()
    finally:
        if client.kc is not None:
            client.kc.stop_channels()


def execute(path: Path, cwd: Path, kernel: tuple) -> nbformat.NotebookNode:
    """Run a notebook in an empty namespace with ``cwd`` as its working directory."""
    nb = jupytext.read(path)
    fresh = FRESH_START.format(cwd=str(cwd))
    nb.cells.insert(0, nbformat.v4.new_code_cell(fresh))
    run(nb, *kernel)
    del nb.cells[0]
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
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import sys; print(sys.prefix)")]
    )
    NotebookClient(nb, kernel_name=python3_kernel, timeout=120).execute()
    assert outputs(nb, "stream")[0]["text"].strip() == sys.prefix


def test_every_notebook_says_what_it_makes():
    assert sorted(EXPECTED) == sorted(p.stem for p in PATHS)


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_executes_with_inline_figures(path, tmp_path, shared_kernel):
    nb = execute(path, tmp_path, shared_kernel)
    assert not outputs(nb, "error")  # execute() raises on an error; belt and braces
    draws = any(w in c.source for c in nb.cells if c.cell_type == "code" for w in DRAWS)
    images = [o for o in outputs(nb, "display_data") if "image/png" in o.get("data", {})]
    if draws:
        assert images, f"{path.name} draws a figure but no inline image/png came out"
    printed, files = EXPECTED.get(path.stem, ((), ()))
    text = "".join(o["text"] for o in outputs(nb, "stream") if o["name"] == "stdout")
    assert all(p in text for p in printed), text[-2000:]
    assert all((tmp_path / f).stat().st_size > 1000 for f in files)


def test_a_failing_notebook_cell_fails_the_test(tmp_path, shared_kernel):
    path = tmp_path / "broken.py"
    path.write_text("# %%\nx = 1\n\n# %%\nassert x == 2, 'x is not 2'\n")
    with pytest.raises(Exception, match="x is not 2"):
        execute(path, tmp_path, shared_kernel)


def test_each_notebook_starts_from_an_empty_namespace(tmp_path, shared_kernel):
    first, second = tmp_path / "first.py", tmp_path / "second.py"
    first.write_text("# %%\nleft_over = 1\n")
    second.write_text("# %%\nprint('left_over' in dir())\n")
    execute(first, tmp_path, shared_kernel)
    nb = execute(second, tmp_path, shared_kernel)
    assert outputs(nb, "stream")[0]["text"].strip() == "False"


def test_walkthrough_runs_as_a_script(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MPLBACKEND", raising=False)
    runpy.run_path(str(NOTEBOOKS / "walkthrough.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "frame 7" in out and "with every token kept" in out
    assert (tmp_path / "walkthrough_masks.png").stat().st_size > 1000
