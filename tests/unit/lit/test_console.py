"""The console table names the method that ran, the sweep job, and p-values exactly."""

import io

import pytest
from rich.console import Console

from neuroflow.lit.console import format_pvalue, method_label, print_summary, run_title

GATE = {"threshold": 0.2, "ema_decay": 0.01, "mode": "threshold", "keep_fraction": 0.2}
HARD = {"mode": "hard", "alpha": 0.01}


def acc(value: float) -> dict:
    return {"acc": value, "ci_low": value - 0.05, "ci_high": min(1.0, value + 0.02), "n": 200}


def summary(pvalue: float = 0.00390625) -> dict:
    side = {"top1": acc(0.955), "top3": acc(0.995), "seconds": 1.0}
    return {
        "clips": 200,
        "dense": {"top1": acc(1.0), "top3": acc(1.0), "seconds": 2.0},
        "sparse": side,
        "retention": 0.955,
        "mcnemar": {"a_only": 9, "b_only": 0, "statistic": 0.0, "pvalue": pvalue},
        "fidelity": 0.9288,
        "keep_fraction": 0.263,
        "skip_rate": 0.737,
        "skip_rate_after_first": 0.786,
        "speedup": 2.0,
    }


@pytest.mark.parametrize(
    ("cfg", "label"),
    [
        ({"arch": {"name": "dense"}}, "dense"),
        ({"arch": {"name": "C"}, "gate": GATE, "cache": HARD}, "Arch C θ=0.20 α=0.01 hard cache"),
        ({"arch": {"name": "B"}, "gate": GATE, "cache": HARD}, "Arch B θ=0.20 α=0.01"),
        (
            {"arch": {"name": "A", "anchor": "keyframe"}, "gate": GATE},
            "Arch A θ=0.20 α=0.01 keyframe anchor",
        ),
        (
            {"arch": {"name": "D", "dense_layers": 4}, "gate": GATE, "cache": HARD},
            "Arch D θ=0.20 α=0.01 dense_layers=4 hard cache",
        ),
        (
            {"arch": {"name": "D", "dense_layers": None}, "gate": GATE, "cache": HARD},
            "Arch D θ=0.20 α=0.01 dense_layers=half hard cache",
        ),
        ({"arch": {"name": "random_B"}, "gate": GATE}, "random_B keep 0.20"),
        (
            {"arch": {"name": "random_C"}, "gate": GATE, "cache": HARD},
            "random_C keep 0.20 hard cache",
        ),
        (
            {"arch": {"name": "C"}, "gate": {**GATE, "mode": "budget"}, "cache": HARD},
            "Arch C k=0.20 α=0.01 hard cache",
        ),
        (
            {"arch": {"name": "C"}, "gate": GATE, "cache": {"mode": "blend", "alpha": 0.05}},
            "Arch C θ=0.20 α=0.01 blend cache (0.05)",
        ),
        (
            {
                "arch": {"name": "C"},
                "gate": GATE,
                "cache": HARD,
                "schedule": {"_target_": "neuroflow.core.schedules.TargetKeep", "target": 0.2},
            },
            "Arch C θ=0.20 α=0.01 hard cache target_keep 0.2",
        ),
        (
            {
                "arch": {"name": "C"},
                "gate": GATE,
                "cache": HARD,
                "schedule": {"_target_": "neuroflow.core.schedules.Constant"},
            },
            "Arch C θ=0.20 α=0.01 hard cache",
        ),
        (  # a run identity (results.json) names the arch node "method", the schedule "type"
            {
                "method": {"name": "C"},
                "gate": GATE,
                "cache": HARD,
                "schedule": {"type": "Warmup", "frames": 4},
            },
            "Arch C θ=0.20 α=0.01 hard cache warmup 4 frames",
        ),
    ],
)
def test_method_label_names_the_method_and_its_operating_point(cfg, label):
    assert method_label(cfg) == label


def test_run_title_names_the_job_overrides_but_not_output_folders():
    assert run_title("eval", []) == "eval"
    overrides = ["gate.threshold=0.05", "model=tiny", "hydra.sweep.dir=/tmp/x"]
    assert run_title("eval", overrides) == "eval: gate.threshold=0.05 model=tiny"


@pytest.mark.parametrize(
    ("p", "text"), [(0.00390625, "3.91e-03"), (1e-12, "1.00e-12"), (1.0, "1.00e+00"), (None, "n/a")]
)
def test_pvalues_are_scientific_never_rounded_to_zero(p, text):
    assert format_pvalue(p) == text


def render(data: dict, width: int = 80) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None)
    label = "Arch C θ=0.20 α=0.01 hard cache"
    print_summary(data, method_label=label, title="eval: gate.threshold=0.2", console=console)
    return buffer.getvalue()


def test_table_rows_are_named_after_the_method_with_the_title():
    text = render(summary(), width=140)
    assert "Arch C θ=0.20 α=0.01 hard cache" in text and "sparse" not in text.split("McNemar")[0]
    assert "eval: gate.threshold=0.2 (200 clips)" in text
    assert "p=3.91e-03" in text and "p=0.00" not in text
    assert "0.955 [0.905, 0.975]" in text


def test_brackets_in_overrides_are_printed_not_read_as_markup():
    buffer = io.StringIO()
    console = Console(file=buffer, width=160, color_system=None)
    title = run_title("eval", ["prompts.templates=[a photo of {}]"])
    print_summary(summary(), method_label="Arch C", title=title, console=console)
    assert "prompts.templates=[a photo of {}]" in buffer.getvalue()


def test_missing_numbers_print_as_na_not_a_crash():
    data = summary(pvalue=None)
    data["retention"] = None  # results.json writes NaN as null
    text = render(data, width=140)
    assert "retention n/a" in text and "p=n/a" in text


def test_default_console_is_wide_enough_off_a_terminal(capsys):
    print_summary(summary(), method_label="Arch C θ=0.20 α=0.01 hard cache", title="eval")
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == len(set(lines)), lines  # no row wrapped onto look-alike lines
    assert any("Arch C θ=0.20 α=0.01 hard cache" in line for line in lines)
