"""Per-trajectory values (scores, ``pixel/*`` reward components, row columns) as text rows for the page (pure)."""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from verl_pixel.record import EXTRA_FIELD_PREFIX as PIXEL_PREFIX

MAX_VALUE_CHARS = 300  # long values (a ground-truth dict, an answer text) are cut for the table


def format_value(value: Any) -> str:
    """Short text for one value: floats to 4 significant digits, containers as compact JSON."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, (int, str)):
        text = str(value)
    elif isinstance(value, bytes):
        text = f"<{len(value)} bytes>"
    else:
        text = json.dumps(value, ensure_ascii=False, default=_short_default)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def _short_default(value: Any) -> str:
    return f"<{len(value)} bytes>" if isinstance(value, bytes) else str(value)


def field_rows(
    record: Mapping[str, Any], skip: Collection[str] = (), first: Sequence[str] = ()
) -> tuple[tuple[str, str], ...]:
    """The record's keys and formatted values: ``first`` keys in that order, then ``pixel/*`` keys, then the rest.

    Args:
        record: the trajectory's values.
        skip: keys not shown (the conversation itself, image bytes).
        first: keys shown first when present (``score``, ``gts``).
    """
    keys = [key for key in record if key not in skip]
    head = [key for key in first if key in keys]
    rest = [key for key in keys if key not in head]
    pixel = sorted(key for key in rest if key.startswith(PIXEL_PREFIX))
    ordered = head + pixel + [key for key in rest if not key.startswith(PIXEL_PREFIX)]
    return tuple((key, format_value(record[key])) for key in ordered)
