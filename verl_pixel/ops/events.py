"""Aggregation of per-call tool metrics (the dicts :meth:`OperationResult.to_event` produces)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any


def summarize_events(events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Totals over one trajectory's tool calls.

    Args:
        events: per-call dicts with ``ok``, ``reason``, ``images_added``, ``pixels_added``.

    Returns:
        ``attempted``, ``succeeded``, ``failed``, ``images_added``, ``pixels_added`` and ``failure_reasons``
        (reason -> count).
    """
    attempted = succeeded = images_added = pixels_added = 0
    reasons: Counter[str] = Counter()
    for event in events:
        attempted += 1
        if event.get("ok"):
            succeeded += 1
        else:
            reasons[str(event.get("reason") or "unknown")] += 1
        images_added += int(event.get("images_added", 0))
        pixels_added += int(event.get("pixels_added", 0))
    return {
        "attempted": attempted,
        "succeeded": succeeded,
        "failed": attempted - succeeded,
        "images_added": images_added,
        "pixels_added": pixels_added,
        "failure_reasons": dict(reasons),
    }
