"""MVBench (``mvbench``): multiple-choice video questions over 20 temporal tasks, 16 sampled frames per video.

Source: Li et al., "MVBench: A Comprehensive Multi-modal Video Understanding Benchmark", CVPR 2024
(arXiv 2311.17005); data ``OpenGVLab/MVBench`` on the HF hub (gated). Metric: accuracy, per task and overall (the
paper's headline is the mean over tasks; with 200 questions per task both agree). Pixel Reasoner evaluates with
16 frames (Wang et al., arXiv 2505.15966).

Expected layout (the HF repository after unzipping its video archives)::

    <root>/json/action_sequence.json ... (20 files, names in TASKS)
        [{"video": "ZS9XR.mp4", "question": "...", "candidates": ["...", ...], "answer": "<candidate text>",
          "start": 12.3, "end": 20.1}, ...]      ("start"/"end" seconds only for the tasks marked bound)
    <root>/video/<prefix>/<video>                 (prefix per task in TASKS, e.g. star/Charades_v1_480/)

Each ``<video>`` is read as (first match): a folder of frame images at ``<root>/video/<prefix>/<video>`` or at the
same path without the extension (pre-extracted frames; exactly 16 without a ``start``/``end`` bound are taken whole,
otherwise sampled within the bound), else a video file decoded with PyAV; each also under
``<root>/video/data0613/<prefix>/``, where ``data0613.zip`` unpacks some clevrer and star videos that exist nowhere
else (VLMEvalKit's ``move_files`` moves them up; lmms-eval's ``mvbench/utils.py`` falls back to that path). TVQA
(episodic reasoning) ships as 3-fps frame folders, as the MVBench code reads it. Frames become 16 images of the row
(``<image>`` x 16) with the frame pixel budget; ``select_frames`` and ``crop_image`` both work on them in the runner.

Task set: all 20 when ``tasks`` is not given, except ``fine_grained_pose``: its NTU RGB+D clips were removed from
the HF repository (commit f6b1a53, "Due to NTU RGB+D License, 320 videos ... need to be downloaded manually"), so it
is left out with a logged message unless the user supplied them (``<root>/video/nturgbd/`` exists) or names it in
``tasks``. Tasks whose JSON file is missing are an error unless ``tasks`` names the subset to read.

Score: MVBench's official number is the mean of the per-task accuracies ("Avg", OpenGVLab/Ask-Anything#90); the
report gives it beside the per-question mean (:mod:`verl_pixel.eval.report`).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from verl_pixel.eval.benchmarks.source_files import field, read_json_list, record_context, require_file
from verl_pixel.eval.benchmarks.video_frames import folder_frames, video_file_frames
from verl_pixel.eval.samples import DEFAULT_FRAME_MAX_PIXELS, EvalSample, ImageInput, option_letter_of
from verl_pixel.reward.scoring.ground_truth import AnswerType

NAME = "mvbench"
NUM_FRAMES = 16
FRAME_FOLDER_FPS = 3.0  # MVBench's fps for its frame-folder task (tvqa/frames_fps3_hq)


@dataclasses.dataclass(frozen=True)
class TaskSource:
    """Where one MVBench task's videos are (from the authors' ``data_list``)."""

    prefix: str
    bound: bool  # the items carry "start"/"end" seconds


TASKS: dict[str, TaskSource] = {
    "action_sequence": TaskSource("star/Charades_v1_480", True),
    "action_prediction": TaskSource("star/Charades_v1_480", True),
    "action_antonym": TaskSource("ssv2_video", False),
    "fine_grained_action": TaskSource("Moments_in_Time_Raw/videos", False),
    "unexpected_action": TaskSource("FunQA_test/test", False),
    "object_existence": TaskSource("clevrer/video_validation", False),
    "object_interaction": TaskSource("star/Charades_v1_480", True),
    "object_shuffle": TaskSource("perception/videos", False),
    "moving_direction": TaskSource("clevrer/video_validation", False),
    "action_localization": TaskSource("sta/sta_video", True),
    "scene_transition": TaskSource("scene_qa/video", False),
    "action_count": TaskSource("perception/videos", False),
    "moving_count": TaskSource("clevrer/video_validation", False),
    "moving_attribute": TaskSource("clevrer/video_validation", False),
    "state_change": TaskSource("perception/videos", False),
    "fine_grained_pose": TaskSource("nturgbd", False),
    "character_order": TaskSource("perception/videos", False),
    "egocentric_navigation": TaskSource("vlnqa", False),
    "episodic_reasoning": TaskSource("tvqa/frames_fps3_hq", True),
    "counterfactual_inference": TaskSource("clevrer/video_validation", False),
}
LAYOUT = "<root>/json/<task>.json and <root>/video/<prefix>/<video> (OpenGVLab/MVBench, archives unzipped)"
UNDISTRIBUTED_TASK = "fine_grained_pose"  # NTU RGB+D: not in the HF repository any more
DATA0613 = "data0613"  # the folder data0613.zip unpacks into, under <root>/video/
logger = logging.getLogger(__name__)


def _bound(record: Mapping[str, Any], source: TaskSource) -> tuple[float, float] | None:
    if not source.bound:
        return None
    try:
        return float(record["start"]), float(record["end"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"fields 'start'/'end': this task needs the clip bounds in seconds ({err})") from err


def sample_frames(video_root: Path, record: Mapping[str, Any], source: TaskSource, num_frames: int) -> list[bytes]:
    """The sampled frames of one item's video (I/O; layout rules in the module docstring).

    Raises:
        ValueError: if the video is missing or cannot be decoded.
    """
    name = str(field(record, "video"))
    bound = _bound(record, source)
    paths = [video_root / source.prefix / name, video_root / DATA0613 / source.prefix / name]
    for path in paths:
        for folder in (path, path.with_suffix("")):
            if folder.is_dir():
                return folder_frames(folder, num_frames, FRAME_FOLDER_FPS, bound)
        if path.is_file():
            return video_file_frames(path, num_frames, bound)
    raise ValueError(f"field 'video': no video file or frame folder at {paths[0]} or {paths[1]}")


def mvbench_sample(
    task: str, number: int, record: Mapping[str, Any], frames: Sequence[bytes], frame_max_pixels: int
) -> EvalSample:
    """One question (pure; ``frames`` already sampled and encoded)."""
    candidates = field(record, "candidates")
    if isinstance(candidates, str) or not 2 <= len(candidates) <= 26:
        raise ValueError(f"field 'candidates': expected a list of 2 to 26 options, got {candidates!r}")
    options = tuple(str(candidate) for candidate in candidates)
    return EvalSample(
        benchmark=NAME,
        sample_id=f"{task}/{number}",
        question=str(field(record, "question")),
        answer_type=AnswerType.MULTIPLE_CHOICE.value,
        answers=(option_letter_of(field(record, "answer"), options),),
        options=options,
        images=tuple(ImageInput(data=frame, max_pixels=frame_max_pixels) for frame in frames),
        num_video_frames=len(frames),
        category=task,
    )


def _task_samples(root: Path, task: str, num_frames: int, frame_max_pixels: int, workers: int) -> list[EvalSample]:
    path = require_file(root / "json" / f"{task}.json", LAYOUT)
    records = read_json_list(path)
    source = TASKS[task]

    def build(item: tuple[int, Mapping[str, Any]]) -> EvalSample:
        number, record = item
        with record_context(path, f"item {number} (video {record.get('video')!r})"):
            frames = sample_frames(root / "video", record, source, num_frames)
            return mvbench_sample(task, number, record, frames, frame_max_pixels)

    # Decoding is mostly native code (PyAV releases the GIL), so threads overlap it.
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(build, enumerate(records)))


def default_tasks(root: Path) -> list[str]:
    """All 20 tasks, but ``fine_grained_pose`` only when its clips were supplied (module docstring)."""
    if (root / "video" / TASKS[UNDISTRIBUTED_TASK].prefix).is_dir():
        return list(TASKS)
    logger.warning(
        "MVBench: leaving out %s: its NTU RGB+D clips are no longer distributed with OpenGVLab/MVBench; put the 200 "
        "clips listed in video/MVBench_videos_ntu.txt under %s to run it (or name it in --mvbench-tasks)",
        UNDISTRIBUTED_TASK,
        root / "video" / TASKS[UNDISTRIBUTED_TASK].prefix,
    )
    return [task for task in TASKS if task != UNDISTRIBUTED_TASK]


def load_mvbench(
    root: str | Path,
    tasks: Sequence[str] | None = None,
    num_frames: int = NUM_FRAMES,
    frame_max_pixels: int = DEFAULT_FRAME_MAX_PIXELS,
    workers: int = 4,
) -> list[EvalSample]:
    """Read MVBench (the default tasks, or ``tasks``) with ``num_frames`` sampled frames per question.

    Raises:
        PreprocessError: for a missing JSON file, field, video or undecodable video, naming file, item and field.
        ValueError: for an unknown task name.
    """
    unknown = sorted(set(tasks or ()) - set(TASKS))
    if unknown:
        raise ValueError(f"unknown MVBench tasks {unknown}; known: {sorted(TASKS)}")
    root = Path(root)
    samples: list[EvalSample] = []
    for task in tasks or default_tasks(root):
        samples += _task_samples(root, task, num_frames, frame_max_pixels, workers)
    return samples
