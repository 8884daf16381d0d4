r"""Import the peers' released RL data into our RL rows (``verl-pixel prepare pixel-reasoner-rl | deepeyes``).

**Pixel Reasoner** (``TIGER-Lab/PixelReasoner-RL-Data``: ``release.parquet`` plus ``images.zip`` / ``videos.zip``;
its evaluation sets ``JasperHaozhe/*-EvalData-PixelReasoner`` share the layout). The schema is what its code reads
(TIGER-AI-Lab/Pixel-Reasoner a3a6c3a): ``curiosity_driven_rl/openrlhf/datasets/prompts_dataset.py`` lines 143-161
(``question``; ``image``: a list of paths, a video's frames when ``is_video``; ``qid``), ``experience_maker.py``
lines 1425-1438 (``q2gt[qid] = answer``, text or a list) and ``onestep_evaluation/rename_imagepath.py`` (paths
relative to the unzipped folder). One row each::

    prompt        [{"role": "user", "content": "<image>" * n + question + guidelines}]   (Pixel Reasoner's order:
                  images first, then ``question + "\n\nGuidelines: ..."``, its ``vcot`` template, line 37)
    images        [{"bytes": ...}] per image; a video's frames as images with ``max_pixels`` 512*28*28
                  (``data_processor.py`` line 423) and ``extra_info.num_video_frames`` (``video_layout: frames``,
                  the default until the video path lands), or one ``<video>`` with ``videos: [{"video": [paths]}]``
    reward_model  {"style": "rule", "ground_truth": typed for our scorers (:mod:`verl_pixel.data.answer_typing`)}
    extra_info    {"index", "split", "qid", "question", "answer", "answers", "is_video", "num_video_frames"}

A literal ``<image>`` in a question stays text (escaped, see :mod:`verl_pixel.data.sft_schema`).

**DeepEyes** (``ChenShawn/DeepEyes-Datasets-47k``: verl-format parquet files with ``prompt`` (system + user,
``<image>`` placeholders), ``images`` (``{"bytes", "path"}``), ``reward_model.ground_truth`` (free text for
DeepEyes' LLM judge), ``extra_info``, ``env_name``; see volcengine/verl ``recipe/deepeyes/deepeyes47k_preprocess.py``).
The user turn is kept as it is; the system turn, which carries DeepEyes' tool block as text, is dropped (the chat
template renders the tools, the ``deepeyes`` preset DeepEyes' own block); the answer is typed for our rule-based
scorers (DeepEyes judges with Qwen2.5-72B); a row without ``env_name`` (DeepEyes trains it without tools) gets
verl's ``single_turn_agent``.

Every image is decoded before its row is kept; a bad row is skipped and named (:mod:`verl_pixel.data.import_result`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from verl_pixel.constants import NUM_VIDEO_FRAMES_FIELD, PIXEL_AGENT_NAME
from verl_pixel.data.answer_typing import answer_list, typed_ground_truth
from verl_pixel.data.images import ImageDecodeError, load_image
from verl_pixel.data.import_result import ImportResult, convert_items
from verl_pixel.data.parquet_io import iter_rows
from verl_pixel.data.sft_schema import IMAGE_PLACEHOLDER, RowError, count_placeholders, escape_literal_placeholders
from verl_pixel.prompts import DEFAULT_GUIDELINES

PIXEL_REASONER_RL_FRAME_MAX_PIXELS = 512 * 28 * 28  # its RL input-video frame budget
SINGLE_TURN_AGENT = "single_turn_agent"  # verl's agent loop without tools


@dataclasses.dataclass(frozen=True)
class PeerRLImportConfig:
    """How a peer's RL rows become ours.

    Attributes:
        image_root: folder relative image paths start from (``None``: the parquet file's folder).
        embed_images: store image bytes (portable) or absolute paths.
        video_layout: a video's frames as images (``frames``) or one ``<video>`` entry (``video``; verl's video
            path, which needs torchvision).
        frame_max_pixels: pixel budget recorded on each frame given as an image.
        guidelines: appended to Pixel Reasoner questions (its ``vcot`` text, = ``DEFAULT_GUIDELINES``).
        split: recorded in ``extra_info.split``.
        data_source: the rows' ``data_source`` (``None``: Pixel Reasoner's qid prefix, DeepEyes' own column).
        agent_name: agent loop of rows that may use tools.
    """

    image_root: str | None = None
    embed_images: bool = True
    video_layout: Literal["frames", "video"] = "frames"
    frame_max_pixels: int = PIXEL_REASONER_RL_FRAME_MAX_PIXELS
    guidelines: str = DEFAULT_GUIDELINES
    split: str = "train"
    data_source: str | None = None
    agent_name: str = PIXEL_AGENT_NAME

    def __post_init__(self) -> None:
        if self.video_layout not in ("frames", "video"):
            raise ValueError(f"video_layout must be 'frames' or 'video', got {self.video_layout!r}")


def _read(path: str | os.PathLike) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError]]:
    errors: list[RowError] = []
    return list(iter_rows(path, on_undecodable=errors.append)), errors


def import_pixel_reasoner_rl(path: str | os.PathLike, config: PeerRLImportConfig) -> ImportResult:
    """Our RL rows of a Pixel Reasoner RL / eval parquet (bad rows skipped and listed)."""
    root = Path(config.image_root) if config.image_root else Path(path).resolve().parent
    items, errors = _read(path)
    return convert_items(items, lambda item, n: pixel_reasoner_rl_row(item, n, root, config), str(path), errors)


def import_deepeyes(path: str | os.PathLike, config: PeerRLImportConfig) -> ImportResult:
    """Our RL rows of a DeepEyes parquet file (bad rows skipped and listed)."""
    items, errors = _read(path)
    return convert_items(items, lambda item, n: deepeyes_row(item, n, config), str(path), errors)


def _text(item: Mapping[str, Any], key: str, index: int) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip():
        raise RowError(index, key, f"expected non-empty text, got {value!r:.80}")
    return value


def _answers(value: Any, index: int, key: str) -> list[str]:
    try:
        return answer_list(value)
    except ValueError as err:
        raise RowError(index, key, str(err)) from None


def _ground_truth(question: str, answers: list[str], index: int, key: str) -> dict[str, Any]:
    try:
        return typed_ground_truth(question, answers)
    except ValueError as err:
        raise RowError(index, key, str(err)) from None


def _decoded(ref: Any, index: int, field: str) -> None:
    try:
        load_image(ref)
    except ImageDecodeError as err:
        raise RowError(index, field, str(err)) from None


def _file_ref(relative: Any, root: Path, index: int, field: str, embed: bool) -> dict[str, Any]:
    if not isinstance(relative, str) or not relative.strip():
        raise RowError(index, field, f"expected an image path, got {relative!r:.80}")
    path = Path(relative) if os.path.isabs(relative) else root / relative
    _decoded(str(path), index, field)
    return {"bytes": path.read_bytes()} if embed else {"image": str(path.resolve())}


def pixel_reasoner_rl_row(item: Mapping[str, Any], index: int, root: Path, config: PeerRLImportConfig) -> dict:
    """Our RL row of one Pixel Reasoner item (layout in the module docstring).

    Raises:
        RowError: naming ``index`` and the field, for a missing field or an unreadable image.
    """
    question = _text(item, "question", index)
    answers = _answers(item.get("answer"), index, "answer")
    paths = item.get("image")
    paths = [] if paths is None or paths == "" else [paths] if isinstance(paths, str) else list(paths)
    is_video = bool(item.get("is_video"))
    if is_video and not paths:
        raise RowError(index, "image", "is_video is true but there are no frames")
    images: list[dict[str, Any]] = []
    videos: list[dict[str, Any]] = []
    if is_video and config.video_layout == "video":
        for k, frame in enumerate(paths):
            _file_ref(frame, root, index, f"image[{k}]", embed=False)
        placeholders = "<video>"
        videos.append({"video": [str((root / frame).resolve()) for frame in paths]})
    else:
        images = [_file_ref(p, root, index, f"image[{k}]", config.embed_images) for k, p in enumerate(paths)]
        if is_video:
            images = [{**image, "max_pixels": config.frame_max_pixels} for image in images]
        placeholders = IMAGE_PLACEHOLDER * len(images)
    qid, guidelines = str(item.get("qid") or index), config.guidelines
    return {
        "data_source": config.data_source or qid.split("-")[0] or "pixel_reasoner",
        "prompt": [{"role": "user", "content": placeholders + escape_literal_placeholders(question) + guidelines}],
        "images": images,
        "videos": videos,
        "reward_model": {"style": "rule", "ground_truth": _ground_truth(question, answers, index, "answer")},
        "agent_name": config.agent_name,
        "extra_info": {
            "index": index,
            "split": config.split,
            "qid": qid,
            "question": question,
            "answer": answers[0],
            "answers": answers,
            "is_video": is_video,
            NUM_VIDEO_FRAMES_FIELD: len(images) if is_video else 0,
        },
    }


def _user_turn(prompt: Any, index: int) -> str:
    messages = [m for m in (prompt if isinstance(prompt, Sequence) and not isinstance(prompt, str) else [])]
    users = [m for m in messages if isinstance(m, Mapping) and m.get("role") == "user"]
    if not users or not isinstance(users[-1].get("content"), str):
        raise RowError(index, "prompt", "expected a user message with text content")
    return users[-1]["content"]


def deepeyes_row(item: Mapping[str, Any], index: int, config: PeerRLImportConfig) -> dict:
    """Our RL row of one DeepEyes row (layout in the module docstring).

    Raises:
        RowError: naming ``index`` and the field, for a missing field, a placeholder count that does not match the
            images, or an unreadable image.
    """
    user = _user_turn(item.get("prompt"), index)
    refs = list(item.get("images") or [])
    if count_placeholders(user, IMAGE_PLACEHOLDER) != len(refs):
        count = count_placeholders(user, IMAGE_PLACEHOLDER)
        raise RowError(index, "images", f"{count} <image> placeholders but {len(refs)} images")
    images = []
    for k, ref in enumerate(refs):
        _decoded(ref, index, f"images[{k}]")
        images.append({"bytes": ref["bytes"]} if isinstance(ref, Mapping) and ref.get("bytes") else ref)
    reward = item.get("reward_model") if isinstance(item.get("reward_model"), Mapping) else {}
    answers = _answers(reward.get("ground_truth"), index, "reward_model.ground_truth")
    extra = item.get("extra_info") if isinstance(item.get("extra_info"), Mapping) else {}
    question = str(extra.get("question") or user)
    env = item.get("env_name")
    return {
        "data_source": config.data_source or str(item.get("data_source") or "deepeyes"),
        "prompt": [{"role": "user", "content": user}],
        "images": images,
        "reward_model": {
            "style": "rule",
            "ground_truth": _ground_truth(question, answers, index, "reward_model.ground_truth"),
        },
        "agent_name": config.agent_name if env else SINGLE_TURN_AGENT,
        "extra_info": {
            "index": index,
            "split": config.split,
            "question": question,
            "answer": answers[0],
            "answers": answers,
            "env_name": str(env or ""),
        },
    }
