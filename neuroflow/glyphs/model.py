"""The mini SigLIP model (re-exported): it lives in :mod:`neuroflow.models.mini_siglip`.

Building and loading the model belong to the model layer, so that ``"mini_siglip"`` is a
model source like any other; this module keeps the names the training code and older
imports use.
"""

from neuroflow.models.mini_siglip import (
    LOGIT_BIAS_INIT,
    LOGIT_SCALE_INIT,
    PIXEL_MEAN,
    PIXEL_STD,
    ModelSize,
    build_model,
    build_processor,
    siglip_config,
    sincos_2d,
    size_dict,
)

__all__ = [
    "LOGIT_BIAS_INIT",
    "LOGIT_SCALE_INIT",
    "PIXEL_MEAN",
    "PIXEL_STD",
    "ModelSize",
    "build_model",
    "build_processor",
    "siglip_config",
    "sincos_2d",
    "size_dict",
]
