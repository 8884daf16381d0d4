"""The one home of data-row checks: SFT and RL parquet rows, checked when a dataset loads and by ``data check``.

:class:`~verl_pixel.data.sft_dataset.PixelSFTDataset`, :class:`~verl_pixel.data.rl_dataset.PixelRLDataset` and
``verl-pixel data check FILE...`` run the same checks, so a file the command passes loads, and a row it lists is
the row a dataset refuses. Each bad row is a :class:`~verl_pixel.data.sft_schema.RowError` naming the file, the
row (its number in that file, 0-based) and the field:

* **SFT rows**: the schema of :mod:`verl_pixel.data.sft_schema` (roles, order, masks, placeholders, tool calls,
  no empty assistant message), then every image and video decoded;
* **RL rows**: a non-empty ``prompt`` of messages whose ``<image>`` / ``<video>`` placeholders match ``images``
  / ``videos`` (a video without its ``<video>`` is named), every image and video decoded, and
  ``reward_model.ground_truth`` readable by the pixel reward;
* **both**: text that is not valid UTF-8 (the row cannot even be read) and, through the one image decoder
  (:func:`verl_pixel.data.images.load_image`) and the one video decoder (:func:`verl_pixel.data.videos.load_video`:
  a video file's sampled frames, or every frame of a list), missing files, corrupt bytes, videos with no
  decodable frame and decompression bombs.
* **length** (SFT, with a :class:`~verl_pixel.data.sft_lengths.TokenLimit`): a row longer than the trainer's
  ``data.max_length`` in tokens, images included, named with its count and the limit.

Policy when a dataset loads (``data.bad_rows``, :func:`plan_rows`): ``error`` (default) stops before training
starts, listing the bad rows; ``skip`` drops them with a logged count and list. An unreadable (non-UTF-8) row
always stops: verl's own reader cannot read its file at all. ``max_samples`` is then drawn from the good rows.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from enum import Enum
from typing import Any

import numpy as np

from verl_pixel.constants import MAX_IMAGE_PIXELS
from verl_pixel.data.images import REFERENCE_KEYS, ImageDecodeError, load_image
from verl_pixel.data.parquet_io import column_names, iter_rows, num_rows
from verl_pixel.data.sft_lengths import TokenLimit
from verl_pixel.data.sft_schema import (
    IMAGE_PLACEHOLDER,
    VIDEO_PLACEHOLDER,
    RowError,
    RowProblem,
    count_placeholders,
    image_ref_problem,
    row_error,
    validate_row,
    video_problems,
    video_reference,
)
from verl_pixel.data.videos import VideoDecodeError, load_video
from verl_pixel.reward.scoring.ground_truth import row_ground_truth

logger = logging.getLogger(__name__)

LISTED_BAD_ROWS = 20  # how many bad rows an error or warning spells out


class RowKind(str, Enum):
    """Which schema a file's rows follow."""

    SFT = "sft"
    RL = "rl"


class BadRowPolicy(str, Enum):
    """What a dataset does with bad rows when it loads (module docstring)."""

    ERROR = "error"
    SKIP = "skip"


def bad_row_policy(value: Any, setting: str = "data.bad_rows") -> BadRowPolicy:
    """The policy named by a config value.

    Raises:
        ValueError: naming ``setting`` and the allowed values.
    """
    try:
        return BadRowPolicy(str(value))
    except ValueError:
        allowed = ", ".join(policy.value for policy in BadRowPolicy)
        raise ValueError(f"{setting}: {value!r} is not one of {allowed}") from None


class BadRowsError(ValueError):
    """Bad rows stop the load (or the command); the message lists them and says how to go on."""


@dataclasses.dataclass(frozen=True)
class RowCheckConfig:
    """What the checks look at.

    Attributes:
        kind: the rows' schema.
        decode_images: decode every image and frame (else only check that files exist).
        check_files: check that image paths exist (off for data whose paths only exist on the training nodes).
        max_image_pixels: images above this are refused (decompression-bomb guard).
        messages_key: SFT column of the messages.
        prompt_key: RL column of the prompt.
        image_key: column of the images.
        video_key: column of the videos.
        tools_key: SFT column of the tool schemas.
        workers: threads checking rows at once (PIL decodes outside the GIL, so decoding scales with cores).
        token_limit: SFT rows longer than this are bad (:mod:`verl_pixel.data.sft_lengths`); ``None``: not checked.
    """

    kind: RowKind
    decode_images: bool = True
    check_files: bool = True
    max_image_pixels: int = MAX_IMAGE_PIXELS
    messages_key: str = "messages"
    prompt_key: str = "prompt"
    image_key: str = "images"
    video_key: str = "videos"
    tools_key: str = "tools"
    workers: int = dataclasses.field(default_factory=lambda: min(8, os.cpu_count() or 1))
    token_limit: TokenLimit | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", RowKind(self.kind))
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")


@dataclasses.dataclass(frozen=True)
class FileCheck:
    """The outcome of checking one file: its row count and its bad rows (undecodable ones flagged)."""

    path: str
    rows: int
    bad: tuple[RowError, ...]
    unreadable: tuple[RowError, ...]


def detect_kind(columns: Sequence[str], config: RowCheckConfig | None = None) -> RowKind:
    """SFT if the file has a messages column, RL if it has a prompt column.

    Raises:
        ValueError: if it has neither.
    """
    config = config or RowCheckConfig(RowKind.SFT)
    if config.messages_key in columns:
        return RowKind.SFT
    if config.prompt_key in columns:
        return RowKind.RL
    raise ValueError(f"neither a '{config.messages_key}' (SFT) nor a '{config.prompt_key}' (RL) column: {columns}")


def row_problems(row: Mapping[str, Any], config: RowCheckConfig) -> list[RowProblem]:
    """Every problem of one row (empty when it is good); images decoded when ``config.decode_images``."""
    if config.kind is RowKind.SFT:
        keys = {k: getattr(config, k) for k in ("messages_key", "image_key", "video_key", "tools_key")}
        problems = validate_row(row, check_files=config.check_files, **keys)
    else:
        problems = _rl_problems(row, config)
    if problems:
        return problems
    if config.decode_images:
        problems = _decode_problems(row.get(config.image_key), row.get(config.video_key), config)
    if problems or config.token_limit is None or config.kind is not RowKind.SFT:
        return problems
    try:
        too_long = config.token_limit.problem(row)
    except ValueError:
        # An image the count cannot open: with decoding or file checks off (paths that exist only on the training
        # nodes) the row is not length-checked here; verl's own check still stops it when it is built.
        return []
    return [RowProblem(config.messages_key, too_long)] if too_long else []


def check_file(path: str | os.PathLike, config: RowCheckConfig) -> FileCheck:
    """Check every row of one parquet file.

    Raises:
        FileNotFoundError: the file is missing (one line).
    """
    unreadable: list[RowError] = []
    bad: list[RowError] = []
    rows = iter_rows(path, on_undecodable=unreadable.append)
    with ThreadPoolExecutor(max_workers=config.workers) as pool:
        # map keeps row order; chunks bound the rows (and image bytes) held at once
        for chunk in _chunks(rows, 64 * config.workers):
            found = pool.map(lambda item: (item[0], row_problems(item[1], config)), chunk)
            bad += [row_error(problems, index, str(path)) for index, problems in found if problems]
    return FileCheck(str(path), num_rows(path), tuple(bad), tuple(unreadable))


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def check_files(paths: Iterable[str | os.PathLike], config: RowCheckConfig) -> list[FileCheck]:
    """Check every row of several files (see :func:`check_file`)."""
    return [check_file(path, config) for path in paths]


def kind_of_file(path: str | os.PathLike) -> RowKind:
    """The schema of a parquet file, from its columns."""
    try:
        return detect_kind(column_names(path))
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from err


def rows_to_skip(checks: Sequence[FileCheck], policy: BadRowPolicy, setting: str) -> set[tuple[str, int]]:
    """Apply the bad-row policy: the ``(file, row)`` pairs to drop, after logging them.

    Args:
        checks: the files' checks.
        policy: error or skip.
        setting: how the user changes the policy (``data.bad_rows=skip``), for the message.

    Raises:
        BadRowsError: on any unreadable row, or on any bad row under ``error``.
    """
    unreadable = [error for check in checks for error in check.unreadable]
    bad = [error for check in checks for error in check.bad]
    total = sum(check.rows for check in checks)
    if unreadable:
        raise BadRowsError(_listing(unreadable, total, "unreadable rows (verl cannot read these files; rewrite them)"))
    if bad and BadRowPolicy(policy) is BadRowPolicy.ERROR:
        hint = f"set {setting} to train without them; `verl-pixel data check FILE...` lists every one"
        raise BadRowsError(_listing(bad, total, f"bad rows ({hint})"))
    if bad:
        logger.warning("%s", _listing(bad, total, "bad rows skipped"))
    return {(error.file or "", error.row_index or 0) for error in bad}


def _listing(errors: Sequence[RowError], total: int, what: str) -> str:
    files = len({error.file for error in errors})
    shown = "\n".join(f"  {error}" for error in errors[:LISTED_BAD_ROWS])
    more = f"\n  ... and {len(errors) - LISTED_BAD_ROWS} more" if len(errors) > LISTED_BAD_ROWS else ""
    return f"{len(errors)} {what}, in {files} file(s) of {total} rows:\n{shown}{more}"


@dataclasses.dataclass(frozen=True)
class RowPlan:
    """Which rows of a dataset's files it keeps.

    Attributes:
        origins: ``(file, row in file)`` of each position of the files concatenated in order (verl's order).
        keep: the positions kept, in order: good rows (or all, unchecked), then ``max_samples`` of them.
    """

    origins: list[tuple[str, int]]
    keep: list[int]


def plan_rows(
    files: Sequence[str],
    data_config: Mapping[str, Any],
    check: RowCheckConfig,
    max_samples: int,
    shuffle: bool,
    seed: int | None,
) -> RowPlan:
    """Check a dataset's files before verl reads them and decide which rows it keeps (the datasets' one entry).

    Args:
        files: the parquet files, in verl's order.
        data_config: verl's ``data`` config; our keys: ``validate_on_load`` (default true), ``decode_images_on_load``
            (default true), ``check_image_files`` (default true), ``bad_rows`` (``error`` | ``skip``).
        check: the schema and column names (its ``decode_images`` / ``check_files`` come from ``data_config``).
        max_samples: verl's ``max_samples`` (<= 0: all rows).
        shuffle: verl's ``data.shuffle``, for drawing ``max_samples``.
        seed: verl's ``data.seed``.

    Raises:
        BadRowsError: unreadable rows, or bad rows under ``bad_rows=error`` (listing them).
        ValueError: an unknown ``bad_rows`` value.
    """
    policy = bad_row_policy(data_config.get("bad_rows", BadRowPolicy.ERROR.value))
    skip: set[tuple[str, int]] = set()
    if data_config.get("validate_on_load", True):
        check = dataclasses.replace(
            check,
            decode_images=bool(data_config.get("decode_images_on_load", True)),
            check_files=bool(data_config.get("check_image_files", True)),
        )
        skip = rows_to_skip(check_files(files, check), policy, "data.bad_rows=skip")
    origins = row_origins(files)
    good = [position for position, origin in enumerate(origins) if origin not in skip]
    return RowPlan(origins, select_samples(good, max_samples, shuffle, seed))


def row_origins(paths: Sequence[str | os.PathLike]) -> list[tuple[str, int]]:
    """``(file, row in file)`` of each position of the files concatenated in order (verl's reading order)."""
    return [(str(path), row) for path in paths for row in range(num_rows(path))]


def select_samples(positions: Sequence[int], max_samples: int, shuffle: bool, seed: int | None) -> list[int]:
    """The first ``max_samples`` positions, or a seeded random subset when ``shuffle``; all when ``max_samples <= 0``.

    verl's rule (``RLHFDataset._read_files_and_tokenize``, ``MultiTurnSFTDataset._read_files_and_process``, verl
    0.9.1), applied after bad rows are dropped so that ``max_samples`` counts good rows; with no bad rows it picks
    exactly verl's rows.
    """
    if not 0 < (max_samples or 0) < len(positions):
        return list(positions)
    if shuffle:
        rng = np.random.default_rng(*((seed,) if seed is not None else ()))
        chosen = rng.choice(len(positions), size=max_samples, replace=False)
    else:
        chosen = np.arange(max_samples)
    return [positions[int(i)] for i in chosen]


def _rl_problems(row: Mapping[str, Any], config: RowCheckConfig) -> list[RowProblem]:
    prompt = row.get(config.prompt_key)
    if not isinstance(prompt, Sequence) or isinstance(prompt, str) or not prompt:
        return [RowProblem(config.prompt_key, "expected a non-empty list of messages")]
    problems: list[RowProblem] = []
    text = ""
    for index, message in enumerate(prompt):
        where = f"{config.prompt_key}[{index}]"
        if not isinstance(message, Mapping) or not isinstance(message.get("role"), str):
            problems.append(RowProblem(where, "expected a message with a 'role' and a 'content'"))
        elif isinstance(message.get("content"), str):
            text += message["content"]
        elif not isinstance(message.get("content"), list):
            problems.append(RowProblem(f"{where}.content", "expected text (with <image>/<video>) or a list"))
    counts = {marker: count_placeholders(text, marker) for marker in (IMAGE_PLACEHOLDER, VIDEO_PLACEHOLDER)}
    for placeholder, key in ((IMAGE_PLACEHOLDER, config.image_key), (VIDEO_PLACEHOLDER, config.video_key)):
        refs = row.get(key) or []
        if not isinstance(refs, Sequence) or isinstance(refs, (str, bytes)):
            problems.append(RowProblem(key, f"expected a list, got {type(refs).__name__}"))
        elif counts[placeholder] != len(refs):
            problems.append(RowProblem(key, f"{counts[placeholder]} {placeholder} placeholders but {len(refs)} {key}"))
    if "reward_model" in row:
        try:
            row_ground_truth(row["reward_model"])
        except ValueError as err:
            problems.append(RowProblem("reward_model.ground_truth", str(err)))
    if problems or config.decode_images:
        return problems
    return _file_problems(row.get(config.image_key), row.get(config.video_key), config)


def _decode_problems(images: Any, videos: Any, config: RowCheckConfig) -> list[RowProblem]:
    """Every image and video of a row decoded (videos sampled and sized as the model will see them)."""
    problems = []
    for k, ref in enumerate(images or []):
        if not config.check_files and not _carries_pixels(ref):
            continue  # a path that may only exist on the training nodes
        try:
            load_image(ref, config.max_image_pixels)
        except ImageDecodeError as err:
            problems.append(RowProblem(f"{config.image_key}[{k}]", str(err)))
    for k, video in enumerate(videos or []):
        field = f"{config.video_key}[{k}]"
        found = video_problems(video, field, check_files=False)
        if found:
            problems += found
            continue
        reference = video_reference(video)
        if not config.check_files and (isinstance(reference, str) or not all(map(_carries_pixels, reference))):
            continue
        try:
            load_video(video, max_frame_pixels=config.max_image_pixels)
        except VideoDecodeError as err:
            problems.append(RowProblem(field, str(err)))
    return problems


def _carries_pixels(ref: Any) -> bool:
    """Whether a reference holds the image itself (bytes, a PIL image, a data URL) rather than a path."""
    if isinstance(ref, Mapping):
        inner = next((ref[key] for key in REFERENCE_KEYS if ref.get(key) is not None), None)
        return inner is not None and _carries_pixels(inner)
    if isinstance(ref, str):
        return ref.startswith("data:")
    return not isinstance(ref, os.PathLike)


def _file_problems(images: Any, videos: Any, config: RowCheckConfig) -> list[RowProblem]:
    problems = []
    for k, ref in enumerate(images or []):
        problem = image_ref_problem(ref, config.check_files)
        if problem:
            problems.append(RowProblem(f"{config.image_key}[{k}]", problem))
    for k, video in enumerate(videos or []):
        problems += video_problems(video, f"{config.video_key}[{k}]", config.check_files)
    return problems
