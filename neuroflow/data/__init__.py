"""Video data layer: decoding, frame sampling, transforms, datasets and synthetic scenes.

Pure PyAV/torch/numpy; only :mod:`neuroflow.data.datamodule` imports Lightning, so import
``ClipDataModule`` from there explicitly.
"""

from neuroflow.data.classnames import prettify_class_name, ucf101_class_names
from neuroflow.data.clips import ClipRef, ClipSampling, ClipSource, load_clip
from neuroflow.data.dataset import ClipDataset, collate_clips, keep_uint8
from neuroflow.data.errors import (
    DatasetNotFoundError,
    EmptyVideoError,
    FrameIndexError,
    NotAVideoError,
    NoUsableClipError,
    VideoDecodeError,
    VideoError,
)
from neuroflow.data.factory import SOURCES, build_clip_dataset, index_source, subset_source
from neuroflow.data.folders import frame_folder_source, single_video_source, video_folder_source
from neuroflow.data.frames import read_frame_folder
from neuroflow.data.hf_videofolder import hf_videofolder_source
from neuroflow.data.records import describe_recovery, skip_record
from neuroflow.data.samples import available_sample_videos, sample_video
from neuroflow.data.sampling import (
    SampledIndices,
    consecutive_indices,
    sample_indices,
    uniform_indices,
    window_starts,
)
from neuroflow.data.subsets import load_clip_list, save_clip_list, stratified_subset
from neuroflow.data.synthetic import Scene, SceneConfig, make_scene, moving_square
from neuroflow.data.synthetic_dataset import SyntheticClipDataset
from neuroflow.data.transforms import FrameTransform
from neuroflow.data.ucf101 import UCF101_URL, ucf101_source
from neuroflow.data.video import VideoInfo, iter_frames, read_frames, video_info

__all__ = [
    "SOURCES",
    "UCF101_URL",
    "ClipDataset",
    "ClipRef",
    "ClipSampling",
    "ClipSource",
    "DatasetNotFoundError",
    "EmptyVideoError",
    "FrameIndexError",
    "FrameTransform",
    "NoUsableClipError",
    "NotAVideoError",
    "SampledIndices",
    "Scene",
    "SceneConfig",
    "SyntheticClipDataset",
    "VideoDecodeError",
    "VideoError",
    "VideoInfo",
    "available_sample_videos",
    "build_clip_dataset",
    "collate_clips",
    "consecutive_indices",
    "describe_recovery",
    "frame_folder_source",
    "hf_videofolder_source",
    "index_source",
    "iter_frames",
    "keep_uint8",
    "load_clip",
    "load_clip_list",
    "make_scene",
    "moving_square",
    "prettify_class_name",
    "read_frame_folder",
    "read_frames",
    "sample_indices",
    "sample_video",
    "save_clip_list",
    "single_video_source",
    "skip_record",
    "stratified_subset",
    "subset_source",
    "ucf101_class_names",
    "ucf101_source",
    "uniform_indices",
    "video_folder_source",
    "video_info",
    "window_starts",
]
