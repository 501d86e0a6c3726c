"""Video data layer: decoding, frame sampling, transforms, datasets and synthetic scenes.

Pure PyAV/torch/numpy; only :mod:`neuroflow.data.datamodule` imports Lightning (import it
explicitly).
"""

from neuroflow.data.errors import (
    DatasetNotFoundError,
    EmptyVideoError,
    FrameIndexError,
    VideoDecodeError,
    VideoError,
)
from neuroflow.data.samples import available_sample_videos, sample_video
from neuroflow.data.sampling import (
    SampledIndices,
    consecutive_indices,
    sample_indices,
    uniform_indices,
    window_starts,
)
from neuroflow.data.synthetic import Scene, SceneConfig, make_scene, moving_square
from neuroflow.data.transforms import FrameTransform
from neuroflow.data.video import VideoInfo, iter_frames, read_frames, video_info

__all__ = [
    "DatasetNotFoundError",
    "EmptyVideoError",
    "FrameIndexError",
    "FrameTransform",
    "SampledIndices",
    "Scene",
    "SceneConfig",
    "VideoDecodeError",
    "VideoError",
    "VideoInfo",
    "available_sample_videos",
    "consecutive_indices",
    "iter_frames",
    "make_scene",
    "moving_square",
    "read_frames",
    "sample_indices",
    "sample_video",
    "uniform_indices",
    "video_info",
    "window_starts",
]
