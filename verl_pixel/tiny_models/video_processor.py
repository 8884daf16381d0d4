"""A Qwen2-VL video processor that builds without torchvision: the tiny kits' ``processor.video_processor``.

transformers 5.10's ``Qwen2VLVideoProcessor`` imports torchvision (``torchvision.transforms.v2.functional``) and
its base class is a dummy without it. This class does the same arithmetic as its ``_preprocess`` with torch alone:
each video (``(T, C, H, W)`` / ``(T, H, W, C)`` arrays or tensors, or lists of PIL frames) is resized to the
``smart_resize`` size under ``min_pixels`` / ``max_pixels`` (antialiased bicubic, what torchvision runs), rescaled
and normalised with the fused CLIP mean/std, padded to a multiple of ``temporal_patch_size`` with its last frame,
and cut into ``(grid_t * grid_h * grid_w, C * temporal_patch_size * patch * patch)`` patches in Qwen2-VL's
order. Videos arrive decoded and sampled (verl passes ``do_sample_frames=False``); their metadata, or transformers'
default when none is given, comes back as ``video_metadata`` for the processor's ``second_per_grid_ts``.

The arithmetic is numpy's (float32, the same IEEE operations as torch's) and the results are wrapped with
``torch.from_numpy``: verl's length filter runs the processor in forked ``datasets`` workers, where a multi-threaded
(OpenMP) torch kernel hangs once the parent process has used OpenMP. Only a resize (rare: the video decoder already
sizes frames within these bounds) runs a torch kernel.
"""

from __future__ import annotations

import copy
import json
import math
import os
from typing import Any, ClassVar

import numpy as np
import torch
from transformers.feature_extraction_utils import BatchFeature
from transformers.image_utils import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD
from transformers.utils import PushToHubMixin
from transformers.video_utils import make_batched_metadata, make_batched_videos

from verl_pixel.ops.config import MAX_ASPECT_RATIO
from verl_pixel.ops.resize import fit_to_budget

_CHANNELS = (1, 3, 4)


class Qwen2VLVideoProcessorPil(PushToHubMixin):
    """Qwen2-VL video patches without torchvision (module docstring).

    Args:
        min_pixels: smallest frame size after ``smart_resize`` (pixels).
        max_pixels: largest frame size after ``smart_resize`` (pixels).
        patch_size: vision patch side (14 for Qwen2.5-VL).
        temporal_patch_size: frames per temporal patch.
        merge_size: spatial merge of the vision tower (2x2 patches per token).
        image_mean: per-channel mean (CLIP's).
        image_std: per-channel std (CLIP's).
        rescale_factor: pixel scale before normalising (1/255).
    """

    model_input_names: ClassVar[list[str]] = ["pixel_values_videos", "video_grid_thw"]
    _auto_class = None

    def __init__(
        self,
        min_pixels: int = 128 * 28 * 28,
        max_pixels: int = 768 * 28 * 28,
        patch_size: int = 14,
        temporal_patch_size: int = 2,
        merge_size: int = 2,
        image_mean: list[float] | tuple[float, ...] = OPENAI_CLIP_MEAN,
        image_std: list[float] | tuple[float, ...] = OPENAI_CLIP_STD,
        rescale_factor: float = 1 / 255,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("video_processor_type", None)
        self.min_pixels, self.max_pixels = int(min_pixels), int(max_pixels)
        self.patch_size, self.temporal_patch_size, self.merge_size = patch_size, temporal_patch_size, merge_size
        self.image_mean, self.image_std = list(image_mean), list(image_std)
        self.rescale_factor = rescale_factor

    def __call__(self, videos: Any, video_metadata: Any = None, return_metadata: bool = False, **kwargs: Any):
        """Patches, grids (and with ``return_metadata`` the metadata) of a batch of videos.

        Args:
            videos: one video or a batch (transformers' ``make_batched_videos`` forms).
            video_metadata: per-video metadata (dicts or ``VideoMetadata``), or ``None`` for transformers' default.
            return_metadata: also return ``video_metadata`` (the Qwen processors need it for ``second_per_grid_ts``).
            **kwargs: ``return_tensors``; ``do_sample_frames`` must be false (the videos come sampled); others are
                the processor's defaults and are ignored.

        Raises:
            ValueError: when asked to sample frames, or for an input that is not a video.
        """
        if kwargs.get("do_sample_frames"):
            raise ValueError("this video processor takes sampled frames (do_sample_frames=False)")
        batch = [_to_tchw(video) for video in make_batched_videos(videos)]
        metadata = make_batched_metadata(batch, video_metadata=copy.deepcopy(video_metadata))
        patches, grids = zip(*(self._patches(video) for video in batch), strict=True)
        data: dict[str, Any] = {
            "pixel_values_videos": torch.from_numpy(np.concatenate(patches)),
            "video_grid_thw": torch.from_numpy(np.asarray(grids, dtype=np.int64)),
        }
        if return_metadata:
            data["video_metadata"] = metadata
        return BatchFeature(
            data=data, tensor_type=kwargs.get("return_tensors"), skip_tensor_conversion=["video_metadata"]
        )

    def _patches(self, video: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """One video's flattened patches and its ``[grid_t, grid_h, grid_w]`` (Qwen2VLVideoProcessor._preprocess)."""
        height, width = video.shape[-2:]
        new_height, new_width = self._target_size(video.shape[0], height, width)
        frames = video.astype(np.float32)
        if (new_height, new_width) != (height, width):
            # torchvision's tensor resize is this interpolate call; uint8 input is rounded back to uint8 as it does
            resized = torch.nn.functional.interpolate(
                torch.from_numpy(frames), size=(new_height, new_width), mode="bicubic", antialias=True
            )
            frames = (resized.round().clamp(0, 255) if video.dtype == np.uint8 else resized).numpy()
        scale = np.float32(1.0 / self.rescale_factor)  # transformers' fused rescale + normalise, in float32
        mean = (np.asarray(self.image_mean, dtype=np.float32) * scale).reshape(1, -1, 1, 1)
        std = (np.asarray(self.image_std, dtype=np.float32) * scale).reshape(1, -1, 1, 1)
        frames = (frames - mean) / std
        if pad := -frames.shape[0] % self.temporal_patch_size:
            frames = np.concatenate([frames, np.repeat(frames[-1:], pad, axis=0)])
        grid_t = frames.shape[0] // self.temporal_patch_size
        grid_h, grid_w = new_height // self.patch_size, new_width // self.patch_size
        channels, merge, patch = frames.shape[1], self.merge_size, self.patch_size
        patches = frames.reshape(
            grid_t, self.temporal_patch_size, channels, grid_h // merge, merge, patch, grid_w // merge, merge, patch
        )
        patches = patches.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
        flat = np.ascontiguousarray(patches).reshape(
            grid_t * grid_h * grid_w, channels * self.temporal_patch_size * patch * patch
        )
        return flat, [grid_t, grid_h, grid_w]

    def get_number_of_video_patches(self, num_frames: int, height: int, width: int, videos_kwargs: Any = None) -> int:
        """Patches of a sampled video of ``num_frames`` frames of ``height x width`` (vLLM's sizing hook)."""
        factor = self.patch_size * self.merge_size
        new_width, new_height = fit_to_budget((width, height), factor, self.min_pixels, self.max_pixels)
        return (
            (num_frames // self.temporal_patch_size) * (new_height // self.patch_size) * (new_width // self.patch_size)
        )

    def _target_size(self, num_frames: int, height: int, width: int) -> tuple[int, int]:
        """Qwen2-VL: each frame's ``smart_resize`` under ``min_pixels`` / ``max_pixels``."""
        new_width, new_height = fit_to_budget((width, height), self.patch_size * self.merge_size, self.min_pixels,
                                              self.max_pixels)  # fmt: skip
        return new_height, new_width

    def to_dict(self) -> dict[str, Any]:
        """The constructor arguments, with the type name (saved in ``processor_config.json``)."""
        keys = ("min_pixels", "max_pixels", "patch_size", "temporal_patch_size", "merge_size", "image_mean")
        out = {key: getattr(self, key) for key in (*keys, "image_std", "rescale_factor")}
        return {**out, "video_processor_type": type(self).__name__}

    def to_json_string(self) -> str:
        """JSON of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, config: dict[str, Any] | None) -> Qwen2VLVideoProcessorPil:
        """The inverse of :meth:`to_dict` (``None``: the defaults)."""
        return cls(**(config or {}))

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs: Any) -> None:
        """Saved inside the processor's ``processor_config.json`` (nothing to write on its own)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"


def _to_tchw(video: Any) -> np.ndarray:
    """A video as a ``(T, 3, H, W)`` numpy array (no copy where the input allows it)."""
    array = video.detach().cpu().numpy() if isinstance(video, torch.Tensor) else np.asarray(video)
    if array.ndim != 4:
        raise ValueError(f"expected a (T, C, H, W) or (T, H, W, C) video, got shape {array.shape}")
    if array.shape[-1] in _CHANNELS and array.shape[1] not in _CHANNELS:
        array = array.transpose(0, 3, 1, 2)
    if array.shape[1] == 1:
        return np.repeat(array, 3, axis=1)
    return array[:, :3]


QWEN3_VL_MEAN_STD = (0.5, 0.5, 0.5)


class Qwen3VLVideoProcessorPil(Qwen2VLVideoProcessorPil):
    """Qwen3-VL video patches without torchvision: transformers' ``Qwen3VLVideoProcessor`` arithmetic.

    It differs from Qwen2-VL's in its defaults (16-px patches, mean and std 0.5, 128 to 768 tokens of 32x32 px) and
    in its resize rule: ``min_pixels`` / ``max_pixels`` bound the whole clip, ``t_bar * h * w`` with the frame count
    rounded up to the temporal patch (``smart_resize`` of ``video_processing_qwen3_vl.py``, written out here because
    that module imports torchvision).
    """

    def __init__(
        self,
        min_pixels: int = 128 * 32 * 32,
        max_pixels: int = 768 * 32 * 32,
        patch_size: int = 16,
        image_mean: list[float] | tuple[float, ...] = QWEN3_VL_MEAN_STD,
        image_std: list[float] | tuple[float, ...] = QWEN3_VL_MEAN_STD,
        **kwargs: Any,
    ) -> None:
        super().__init__(min_pixels, max_pixels, patch_size, image_mean=image_mean, image_std=image_std, **kwargs)

    def _target_size(self, num_frames: int, height: int, width: int) -> tuple[int, int]:
        factor = self.patch_size * self.merge_size
        if height < factor or width < factor:
            raise ValueError(f"height:{height} or width:{width} must be larger than factor:{factor}")
        if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
            raise ValueError(
                f"absolute aspect ratio must be smaller than 200, got {max(height, width) / min(height, width)}"
            )
        h_bar, w_bar = round(height / factor) * factor, round(width / factor) * factor
        t_bar = math.ceil(num_frames / self.temporal_patch_size) * self.temporal_patch_size
        if t_bar * h_bar * w_bar > self.max_pixels:
            beta = math.sqrt((num_frames * height * width) / self.max_pixels)
            h_bar = max(factor, math.floor(height / beta / factor) * factor)
            w_bar = max(factor, math.floor(width / beta / factor) * factor)
        elif t_bar * h_bar * w_bar < self.min_pixels:
            beta = math.sqrt(self.min_pixels / (num_frames * height * width))
            h_bar = math.ceil(height * beta / factor) * factor
            w_bar = math.ceil(width * beta / factor) * factor
        return h_bar, w_bar
