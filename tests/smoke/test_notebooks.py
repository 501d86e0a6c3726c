"""The walkthrough notebook (jupytext percent script) runs offline end to end."""

import runpy
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def test_walkthrough_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    runpy.run_path(str(NOTEBOOKS / "walkthrough.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "frame 7" in out and "with every token kept" in out
    assert (tmp_path / "walkthrough_masks.png").stat().st_size > 1000
