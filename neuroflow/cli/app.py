"""The one way a Hydra command starts: configs from the package, checked before the run.

:func:`hydra_command` turns ``run(cfg, run_dir)`` into a console-script ``main``:

1. the configs come from the installed package (``pkg://neuroflow.conf``), so every command
   runs from any directory after a plain ``pip install .``; users add their own config
   folder with ``hydra.searchpath=[file:///abs/path/to/conf]``;
2. before Hydra starts, the command line is composed once against the entry config and its
   schema, so an unknown option, a misspelled key, ``+foo=1`` or a value of the wrong type
   prints one ``error:`` line and exits with status 2 (Hydra alone exits 1 with its own
   message, and lets ``+foo=1`` through);
3. the run itself turns user errors into one ``error:`` line (see :mod:`neuroflow.cli.errors`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hydra
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from neuroflow.cli.errors import describe, exit_on_user_error, fail
from neuroflow.cli.quiet import quiet_libraries
from neuroflow.cli.resolvers import register
from neuroflow.cli.schemas import SCHEMAS, register_schemas

CONF_MODULE = "neuroflow.conf"
# Flags after which Hydra prints something and exits, or that a pre-check cannot follow.
_NO_CHECK = ("--help", "-h", "--hydra-help", "--info", "-i", "--shell-completion", "-sc")
_MULTIRUN = ("--multirun", "-m")
# Flags followed by a value (`--cfg job`): the value is not an override.
_VALUE_FLAGS = (
    "--config-path",
    "-cp",
    "--config-name",
    "-cn",
    "--config-dir",
    "-cd",
    "--cfg",
    "-c",
)


def _overrides(argv: list[str]) -> list[str] | None:
    """The override arguments of ``argv`` (None when no pre-check applies)."""
    if any(a in _NO_CHECK or a.split("=")[0] in _NO_CHECK for a in argv):
        return None
    found, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _VALUE_FLAGS:
            skip = True
        elif not arg.startswith("-"):
            found.append(arg)
    if any(a in _MULTIRUN for a in argv):  # sweeps run one job per value: check the rest
        parsed = OverridesParser.create().parse_overrides(found)
        found = [a for a, o in zip(found, parsed, strict=True) if not o.is_sweep_override()]
    return found


def compose_checked(config_name: str, overrides: list[str]) -> DictConfig:
    """Compose ``config_name`` with ``overrides`` and check it against its schema.

    Raises:
        Exception: Hydra's or OmegaConf's error for a bad override or key.
    """
    register()
    register_schemas()
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module=CONF_MODULE, version_base="1.3"):
        cfg = compose(config_name, overrides=overrides)
    validate(cfg, config_name)
    return cfg


def validate(cfg: DictConfig, config_name: str) -> None:
    """Raise when ``cfg`` holds a key its schema lacks (Hydra lets ``+key=value`` through)."""
    schema = SCHEMAS.get(config_name)
    if schema is None:
        return
    plain = OmegaConf.to_container(cfg, resolve=False)
    plain.pop("hydra", None)  # type: ignore[union-attr]
    OmegaConf.merge(OmegaConf.structured(schema), plain)


def hydra_command(config_name: str, run: str) -> Callable[[], Any]:
    """A console-script ``main`` that checks the command line, then runs ``run`` under Hydra.

    Args:
        config_name: The entry config (``"eval"``, ``"bench"``) in ``neuroflow.conf``.
        run: ``"module:function"`` of the job, called as ``function(cfg, run_dir)``; it is
            imported only after the command line checked out, so errors come fast.
    """

    @hydra.main(version_base="1.3", config_path=f"pkg://{CONF_MODULE}", config_name=config_name)
    def _hydra_main(cfg: DictConfig) -> Any:
        with exit_on_user_error():
            validate(cfg, config_name)
            module, function = run.split(":")
            job = getattr(importlib.import_module(module), function)
            # After the job's imports: Lightning attaches its own console handler on import.
            quiet_libraries(bool(cfg.get("verbose", False)))
            return job(cfg, Path(HydraConfig.get().runtime.output_dir))

    def main() -> Any:
        overrides = _overrides(sys.argv[1:])
        if overrides is not None:
            try:
                compose_checked(config_name, overrides)
            except Exception as err:  # noqa: BLE001 (any compose failure is a bad command line)
                fail(describe(err))
            finally:
                GlobalHydra.instance().clear()
        register()
        register_schemas()
        return _hydra_main()

    main.__doc__ = f"Run ``{run}`` with the ``{config_name}`` config (see conf/{config_name}.yaml)."
    return main
