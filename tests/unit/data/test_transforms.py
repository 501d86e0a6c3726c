"""Frame transforms: square vs crop resize, normalisation, HF image-processor settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import CLIPImageProcessorPil, SiglipImageProcessorPil, ViTImageProcessorPil

from neuroflow.data import FrameTransform


def _frames(num: int = 2, height: int = 30, width: int = 40) -> torch.Tensor:
    return torch.randint(0, 256, (num, height, width, 3), dtype=torch.uint8)


def test_shapes_and_single_frame():
    t = FrameTransform(16)
    assert t(_frames()).shape == (2, 3, 16, 16)
    single = t(_frames(1)[0])
    assert single.shape == (1, 3, 16, 16) and single.dtype == torch.float32


def test_normalisation_values():
    t = FrameTransform(4, mean=(0.5, 0.25, 0.0), std=(0.5, 0.25, 1.0))
    white = torch.full((1, 4, 4, 3), 255, dtype=torch.uint8)
    out = t(white)  # no resize needed: values are exactly (1 - mean) / std
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([1.0, 3.0, 1.0]))
    assert FrameTransform(4)(torch.zeros((1, 4, 4, 3), dtype=torch.uint8)).eq(-1).all()


def test_crop_keeps_aspect_square_stretches():
    frame = torch.zeros((1, 20, 40, 3), dtype=torch.uint8)
    frame[:, :, :10] = 255  # left quarter white
    square = FrameTransform(20, resize="square", interpolation="nearest")(frame)
    crop = FrameTransform(20, resize="crop", interpolation="nearest")(frame)
    # square: the white quarter stays a quarter; crop: the centre half has no white at all
    assert (square[0, 0] > 0).float().mean().item() == pytest.approx(0.25)
    assert (crop[0, 0] > 0).float().mean().item() == 0.0


def test_output_is_clamped_before_normalising():
    checker = torch.zeros((1, 8, 8, 3), dtype=torch.uint8)
    checker[:, ::2, ::2] = 255
    out = FrameTransform(32, mean=0.0, std=1.0)(checker)  # bicubic overshoots without a clamp
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize(
    ("processor", "resize", "interpolation"),
    [
        (SiglipImageProcessorPil, "square", "bicubic"),
        (CLIPImageProcessorPil, "crop", "bicubic"),
        (ViTImageProcessorPil, "square", "bilinear"),
    ],
)
def test_from_processor_matches_hf(processor, resize, interpolation):
    from skimage import data

    proc = processor()
    t = FrameTransform.from_processor(proc)
    assert (t.size, t.resize, t.interpolation) == (224, resize, interpolation)
    assert torch.allclose(t.mean.flatten(), torch.tensor(proc.image_mean))
    image = np.ascontiguousarray(data.astronaut()[::3, ::2])  # 171 x 256, not square
    ours = t(torch.from_numpy(image))
    theirs = torch.as_tensor(proc([image], return_tensors="np")["pixel_values"])
    assert ours.shape == theirs.shape
    assert (ours - theirs).abs().mean() < 0.01  # torch vs PIL resampling, same geometry


def test_from_processor_wrapper_and_override():
    class Wrapper:  # a processor that holds an image processor, like SiglipProcessor
        image_processor = SiglipImageProcessorPil()

    assert FrameTransform.from_processor(Wrapper(), resize="crop").resize == "crop"


def test_from_processor_without_fixed_size():
    class Dynamic:
        size = {"longest_edge": 512}
        image_mean = image_std = (0.5, 0.5, 0.5)

    with pytest.raises(ValueError, match="no fixed output size"):
        FrameTransform.from_processor(Dynamic())


def test_bad_inputs():
    with pytest.raises(TypeError, match="uint8"):
        FrameTransform(8)(torch.zeros((1, 8, 8, 3)))
    with pytest.raises(ValueError, match="RGB"):
        FrameTransform(8)(torch.zeros((1, 8, 8), dtype=torch.uint8))
    with pytest.raises(ValueError, match="resize"):
        FrameTransform(8, resize="pad")
    with pytest.raises(ValueError, match="std"):
        FrameTransform(8, std=0.0)
    with pytest.raises(ValueError, match="3 values"):
        FrameTransform(8, mean=(0.1, 0.2))
