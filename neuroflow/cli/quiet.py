"""Quiet by default: a run prints its own results, not its libraries' chatter.

Where the noise comes from (Lightning 2.x, Hydra 1.3):

* Lightning's ``rank_zero_info`` lines ("GPU available: False, used: False", "TPU
  available", the "💡 Tip: ... litlogger / litmodels" adverts) go through the logger
  ``lightning.pytorch.utilities.rank_zero`` (fabric's ``rank_zero`` when used without the
  trainer); "Seed set to 0" through ``lightning.fabric.utilities.seed``. No Trainer argument
  turns them off, so their loggers are raised to WARNING unless ``verbose``.
* Each of those lines printed twice: ``import lightning`` gives the ``lightning`` logger a
  stderr handler of its own, and the records also propagate to the root logger that Hydra
  set up (console + the run's log file). The package's own handler is dropped once a root
  handler exists, as ``lightning.pytorch`` itself does for its logger.
* torch >= 2.10 deprecates ``LeafSpec``, which Lightning's ``_pytree`` still uses: one
  FutureWarning per run that the user can do nothing about, ignored unless ``verbose``.
* Hugging Face's "Loading weights" progress bar (the shipped model loads in milliseconds).

Transformers' own log messages are left alone: the ones a model's files cause are fixed in
those files, and the rest may matter.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

# Loggers of Lightning's informational lines (levels only: every warning still shows).
LIGHTNING_INFO_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
    "lightning.fabric.utilities.seed",
)
# Third-party warnings a user can do nothing about (message regex, category).
KNOWN_WARNINGS = ((r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning),)
# Packages that attach a console handler of their own to their top logger on import.
_OWN_HANDLER_PACKAGES = ("lightning",)


def _drop_own_console_handlers() -> None:
    """Remove a package's own stderr handler when the root logger prints its records anyway.

    Only packages already imported are touched: the handler is added by their import, so call
    this after the job's modules are imported.
    """
    root = logging.getLogger()
    if not root.handlers:
        return  # nothing else would print them: keep the package's handler
    for name in _OWN_HANDLER_PACKAGES:
        if name not in sys.modules:
            continue
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            # Exactly a console StreamHandler: a user's FileHandler (a subclass) stays.
            if type(handler) is logging.StreamHandler and logger.propagate:
                logger.removeHandler(handler)


def _progress_bars(enabled: bool) -> None:
    """Hugging Face's tqdm bars (model loading) off when quiet; nothing forced when verbose."""
    if enabled:
        return
    try:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()  # read by transformers when it is imported after this call
    except ImportError:
        pass
    if "transformers" in sys.modules:  # already imported: it copied the setting at import
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()


def quiet_libraries(verbose: bool) -> None:
    """Keep the libraries' informational lines and known warnings off the console.

    Idempotent; ``verbose=True`` restores the libraries' own levels, so every Lightning line
    comes back (once: the duplicate console handler is dropped either way).

    Args:
        verbose: Show Lightning's device/seed/tip lines, the known third-party warnings and
            the model-loading progress bar.
    """
    _drop_own_console_handlers()
    level = logging.NOTSET if verbose else logging.WARNING
    for name in LIGHTNING_INFO_LOGGERS:
        logging.getLogger(name).setLevel(level)
    for message, category in KNOWN_WARNINGS:
        # Drop an earlier entry of ours first, so toggling never stacks filters.
        warnings.filters[:] = [
            f
            for f in warnings.filters
            if not (f[1] is not None and f[1].pattern == message and f[2] is category)
        ]
        # "default" (Python's own action for these) also tells the warnings module that the
        # filters changed, so a cached "ignore" from a quiet call does not linger.
        action = "default" if verbose else "ignore"
        warnings.filterwarnings(action, message=message, category=category)
    _progress_bars(enabled=verbose)
    # W&B's banner and run summary repeat what the run prints; a user's own WANDB_SILENT wins.
    if not verbose:
        os.environ.setdefault("WANDB_SILENT", "true")
