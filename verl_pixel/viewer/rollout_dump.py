r"""verl 0.9.1 rollout dumps (``trainer.rollout_data_dir`` / ``trainer.validation_data_dir``) as trajectory views.

What verl writes (``_write_generations`` of ``verl.trainer.ppo.ray_trainer.RayPPOTrainer`` and of the V1
``verl.trainer.ppo.v1.trainer_base.PPOTrainer``, identical layout): one file ``<dump_dir>/<global_step>.jsonl``
per step, one JSON object per trajectory with

* ``input``: the prompt token ids decoded with ``skip_special_tokens=True`` (chat markers and image pads gone);
* ``output``: the response ids (model and tool tokens) decoded the same way;
* ``gts``: ``reward_model.ground_truth`` of the row; ``score``: the summed token-level score; ``step``;
* every reward-extra-info list of the batch's length: with the ``pixel`` reward manager and the legacy trainer
  ``acc`` and ``pixel/*`` (accuracy, format, mode, operations, ...), plus ``request_id`` when present; the V1
  trainer dumps ``uid`` (``{uid}_{session}_{index}``) in training and the reward extras too in validation.

The dump holds no images. With ``--data`` (the RL parquet the run read) a trajectory is joined to its row by the
question text of its prompt (the text of the row's last user message, placeholders removed, whitespace
collapsed), or by a dump field naming the row (``index_field``, matched against ``extra_info.index`` or the row
position). Without a match, the calls' boxes are drawn on a blank placeholder of
:data:`~verl_pixel.viewer.drawing.PLACEHOLDER_SIZE` (pixel coordinates beyond it are clamped).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from verl_pixel.data.images import ImageDecodeError, load_image
from verl_pixel.data.parquet_io import column_names, read_rows, read_rows_at
from verl_pixel.data.sft_schema import PLACEHOLDER_PATTERN
from verl_pixel.ops import OPERATIONS, ImageRegistry, VisualOpsConfig, parse_tool_calls
from verl_pixel.record import EXTRA_FIELD_PREFIX, RolloutMode
from verl_pixel.viewer.drawing import placeholder_image
from verl_pixel.viewer.fields import field_rows
from verl_pixel.viewer.geometry import CallReplay
from verl_pixel.viewer.model import ImageRef, SpanKind, TextSpan, TrajectoryView, Turn
from verl_pixel.viewer.spans import split_response

logger = logging.getLogger(__name__)

DUMP_TEXT_KEYS = ("input", "output")
FIRST_FIELDS = ("score", "acc", "gts", "step")
MODE_KEY = EXTRA_FIELD_PREFIX + "mode"
# The decoded prompt's last user turn: a line "user", its text, then the generation prompt's line "assistant".
_LAST_USER_TURN = re.compile(r"(?:^|\n)user\n(?!.*\nuser\n)(.*?)(?:\nassistant\n?)?\s*$", re.DOTALL)


def find_dump_file(path: Path, step: int | None = None) -> Path:
    """The dump file to read: ``path`` itself, or ``<path>/<step>.jsonl`` (the latest step when ``step`` is None).

    Raises:
        FileNotFoundError: no such file, or no ``<step>.jsonl`` in the folder (names the steps present).
    """
    if path.is_file():
        return path
    steps = {int(p.stem): p for p in path.glob("*.jsonl") if p.stem.isdigit()}
    if not steps:
        raise FileNotFoundError(f"no <step>.jsonl rollout dump in {path}")
    chosen = max(steps) if step is None else step
    if chosen not in steps:
        raise FileNotFoundError(f"no dump for step {chosen} in {path}; steps present: {sorted(steps)}")
    return steps[chosen]


def read_dump(path: Path, start: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
    """The dump's records ``start .. start + limit``.

    Raises:
        ValueError: a line is not a JSON object (names the line).
    """
    records: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            if not isinstance(record, dict) or "output" not in record:
                raise ValueError(f"{path}:{line_number}: not a verl rollout record (no 'output' key)")
            records.append(record)
    return records[start : None if limit is None else start + limit]


def normalized_text(text: str) -> str:
    """Placeholders removed and whitespace collapsed, so a row's prompt and a decoded prompt compare equal."""
    return " ".join(PLACEHOLDER_PATTERN.sub(" ", text).split())


def prompt_question(decoded_prompt: str) -> str:
    """The text of the last user turn of a decoded prompt (normalized); the whole prompt if none is found."""
    match = _LAST_USER_TURN.search(decoded_prompt)
    return normalized_text(match.group(1) if match else decoded_prompt)


def row_question(row: Mapping[str, Any], prompt_key: str = "prompt") -> str:
    """The text of an RL row's last user message (normalized)."""
    users = [m for m in row.get(prompt_key) or () if isinstance(m, Mapping) and m.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    if not isinstance(content, str):  # a content list: keep its text items
        content = " ".join(item.get("text", "") for item in content or () if isinstance(item, Mapping))
    return normalized_text(content)


@dataclasses.dataclass
class RowJoin:
    """Finds the RL row of a dump record and decodes its images.

    Args:
        data_path: the RL parquet (``prompt``, ``images`` columns).
        index_field: a dump field naming the row; None joins by question text.
        image_key: the images column.
        prompt_key: the prompt column.
    """

    data_path: Path
    index_field: str | None = None
    image_key: str = "images"
    prompt_key: str = "prompt"

    def __post_init__(self) -> None:
        columns = column_names(self.data_path)
        keys = [key for key in (self.prompt_key, "extra_info") if key in columns]
        rows = read_rows(self.data_path, columns=keys)
        self._by_question: dict[str, int] = {}
        self._by_index: dict[Any, int] = {}
        for position, row in enumerate(rows):
            self._by_question.setdefault(row_question(row, self.prompt_key), position)
            extra = row.get("extra_info")
            label = extra.get("index") if isinstance(extra, Mapping) and extra.get("index") is not None else position
            self._by_index.setdefault(label, position)

    def positions(self, records: Sequence[Mapping[str, Any]]) -> list[int | None]:
        """The row position of each record (None when no row matches)."""
        return [self._position(record) for record in records]

    def _position(self, record: Mapping[str, Any]) -> int | None:
        if self.index_field is not None:
            return self._by_index.get(record.get(self.index_field))
        question = prompt_question(str(record.get("input", "")))
        if question in self._by_question:
            return self._by_question[question]
        prompt = normalized_text(str(record.get("input", "")))
        return next((pos for text, pos in self._by_question.items() if text and text in prompt), None)

    def images(self, records: Sequence[Mapping[str, Any]]) -> list[list[Image.Image] | None]:
        """Each record's input images (None when its row was not found or an image is unreadable)."""
        positions = self.positions(records)
        rows = read_rows_at(self.data_path, {p for p in positions if p is not None}, columns=[self.image_key])
        out: list[list[Image.Image] | None] = []
        for position in positions:
            if position is None:
                out.append(None)
                continue
            try:
                out.append([load_image(ref) for ref in rows[position].get(self.image_key) or ()])
            except ImageDecodeError as err:
                logger.warning("row %s: %s; using a placeholder", position, err)
                out.append(None)
        return out


def rollout_view(
    record: Mapping[str, Any],
    index: int,
    config: VisualOpsConfig,
    images: Sequence[Image.Image] | None = None,
) -> TrajectoryView:
    """The view of one dump record.

    Args:
        record: the JSON object verl wrote.
        index: its position in the dump (for the name).
        config: the visual-operation config of the run (coordinate convention, padding, budgets).
        images: the row's input images; None draws the boxes on a placeholder.
    """
    notes: list[str] = []
    placeholder = images is None
    if images is None:
        images = [placeholder_image("image 1 is not in the dump: pass --data")]
        notes.append("input image not available (no --data, or no matching row): boxes drawn on a placeholder")
    # A no_tool rollout's calls were refused; replaying them must refuse them too.
    available = () if record.get(MODE_KEY) == RolloutMode.NO_TOOL.value else OPERATIONS
    replay = CallReplay(ImageRegistry.from_inputs(config, list(images), list(images)), available)
    prompt = TextSpan(str(record.get("input", "")), SpanKind.MASKED)
    turns = [Turn("prompt", (*(ImageRef(n) for n in range(1, len(images) + 1)), prompt))]
    spans = split_response(str(record.get("output", "")))
    produced: list[int] = []
    for position, span in enumerate(spans):
        if span.kind is SpanKind.MASKED:
            turns.append(Turn("tool", (span, *(ImageRef(n) for n in produced))))
            continue
        produced = []
        followed_by_tool = position + 1 < len(spans)  # calls of the last turn were never executed
        for call in parse_tool_calls(span.text).calls if followed_by_tool else ():
            produced += replay.run(call).image_numbers
        turns.append(Turn("assistant", (span,)))
    step = record.get("step")
    name = f"step{step}_{index:04d}" if isinstance(step, int) else f"rollout_{index:04d}"
    return TrajectoryView(
        name=name,
        title=f"rollout {index}" + (f" · step {step}" if step is not None else ""),
        turns=tuple(turns),
        images=tuple(dataclasses.replace(image, placeholder=placeholder) for image in replay.numbered_images()),
        operations=replay.operations(),
        fields=field_rows(record, skip=DUMP_TEXT_KEYS, first=FIRST_FIELDS),
        notes=tuple(notes),
    )
