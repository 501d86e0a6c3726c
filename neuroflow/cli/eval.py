"""``neuroflow-eval``: zero-shot evaluation, dense vs a sparse architecture (Hydra entry point)."""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from neuroflow.cli.resolvers import register

register()

# The configs live at the repository root (editable install), next to the package.
CONF_DIR = str(Path(__file__).resolve().parents[2] / "conf")


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="eval")
def main(cfg: DictConfig) -> float:
    """Evaluate as configured; returns sparse top-1 for sweepers."""
    from neuroflow.cli.errors import exit_on_user_error
    from neuroflow.lit.run_eval import run_eval

    with exit_on_user_error():
        return run_eval(cfg, HydraConfig.get().runtime.output_dir)


if __name__ == "__main__":
    main()
