"""Per-sample results of the endpoint runner, stored as JSON lines and read back for resuming and reporting.

One line per finished sample (appended as soon as it finishes, so an interrupted run loses nothing)::

    {"key": "vstar/direct_attributes/sa_4690", "benchmark": "vstar", "sample_id": "direct_attributes/sa_4690",
     "category": "direct_attributes", "run": "qwen7b-adaptive", "model": "...", "ok": true, "error": null,
     "acc": 1.0, "fmt": 0.0, "answer": "B", "answer_source": "boxed",
     "record": {"mode": "adaptive", "complied": true, "ops_attempted": 1, "ops_succeeded": 1, "ops_failed": 0,
                "turns": 2, "images_added": 1, "tool_visual_tokens": 1000, "stop_reason": "answered",
                "answer_text": "..."},
     "prompt_tokens": 3120, "completion_tokens": 250, "response_tokens": 250,
     "input_visual_tokens": 2000, "transcript": ["...", "..."], "draw": 0, "scores": {},
     "need_label": null}

With ``eval run --samples k`` a question is answered k times: draw 0 keeps the question's key, draw ``d`` > 0 is
``<key>#<d>``. ``scores`` holds the scores reported beside ``acc`` (InfographicVQA: Pixel Reasoner's
``exact_match``).

``need_label`` is the row's ``extra_info.needs_zoom`` (None where the benchmark has no such label).

A failed sample (the endpoint gave up) has ``"ok": false`` and its ``error``; resuming retries it. Reading keeps
the last line per key, preferring a successful one.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from verl_pixel.record import TrajectoryRecord

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SampleResult:
    """One sample's outcome (fields as in the module docstring)."""

    key: str
    benchmark: str
    sample_id: str
    run: str
    ok: bool
    category: str = ""
    model: str = ""
    error: str | None = None
    acc: float = 0.0
    fmt: float = 0.0
    answer: str = ""
    answer_source: str = ""
    record: TrajectoryRecord = dataclasses.field(default_factory=TrajectoryRecord)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    response_tokens: int | None = None
    input_visual_tokens: int = 0
    transcript: tuple[str, ...] = ()
    draw: int = 0
    scores: dict[str, float] = dataclasses.field(default_factory=dict)
    need_label: bool | None = None

    @property
    def visual_tokens(self) -> int:
        """Visual tokens of the query: input images plus the images tools returned."""
        return self.input_visual_tokens + self.record.tool_visual_tokens

    def to_json(self) -> dict[str, Any]:
        """Plain JSON object (the record unprefixed, enums as strings)."""
        out = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        fields = self.record.to_extra_fields()
        out["record"] = {name.split("/", 1)[1]: value for name, value in fields.items()}
        out["transcript"] = list(self.transcript)
        out["scores"] = dict(self.scores)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SampleResult:
        """Inverse of :meth:`to_json`.

        Raises:
            ValueError: for a line missing required fields or with a malformed record.
        """
        missing = [name for name in ("key", "benchmark", "sample_id", "run", "ok") if name not in data]
        if missing:
            raise ValueError(f"result line lacks fields {missing}")
        known = {field.name for field in dataclasses.fields(cls)}
        kwargs = {name: value for name, value in data.items() if name in known}
        record = data.get("record") or {}
        kwargs["record"] = TrajectoryRecord.from_mapping({f"pixel/{name}": value for name, value in record.items()})
        kwargs["transcript"] = tuple(data.get("transcript") or ())
        kwargs["scores"] = {str(name): float(value) for name, value in (data.get("scores") or {}).items()}
        return cls(**kwargs)


def read_results(path: str | os.PathLike) -> list[SampleResult]:
    """The results of a JSONL file, one per key (the last line, preferring a successful one); [] if no file.

    Raises:
        ValueError: naming the file and line of a malformed line.
    """
    file = Path(path)
    if not file.exists():
        return []
    latest: dict[str, SampleResult] = {}
    lines = file.read_text(encoding="utf-8").splitlines()
    last = max((number for number, line in enumerate(lines, start=1) if line.strip()), default=0)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            result = SampleResult.from_json(json.loads(line))
        except (json.JSONDecodeError, TypeError, ValueError) as err:
            if number == last:  # a line cut short by an interrupted run: that sample simply runs again
                logger.warning("%s:%d: ignoring an incomplete last line", file, number)
                continue
            raise ValueError(f"{file}:{number}: not a result line ({err})") from err
        previous = latest.get(result.key)
        if previous is None or result.ok or not previous.ok:
            latest[result.key] = result
    return list(latest.values())


def completed_keys(results: Iterable[SampleResult]) -> set[str]:
    """Keys of successfully finished samples (skipped when a run resumes)."""
    return {result.key for result in results if result.ok}


class ResultWriter:
    """Appends result lines to a JSONL file, flushing each one (single writer: the runner's event loop)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            _drop_partial_last_line(self.path)
        self._file = self.path.open("a", encoding="utf-8")

    def write(self, result: SampleResult) -> None:
        """Append one result and flush it to disk."""
        self._file.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _drop_partial_last_line(path: Path) -> None:
    """Cut a last line an interrupted run left without its newline (that sample runs again)."""
    with path.open("rb+") as file:
        data = file.read()
        if data and not data.endswith(b"\n"):
            logger.warning("%s: dropping an incomplete last line", path)
            file.truncate(data.rfind(b"\n") + 1)
