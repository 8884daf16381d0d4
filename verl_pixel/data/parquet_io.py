"""Writing SFT and RL rows to parquet with the uniform schemas parquet needs.

Parquet stores one struct type per column, infers it from the values, and cannot store an empty struct. So:

* every message carries the same keys (:data:`~verl_pixel.data.sft_schema.MESSAGE_KEYS`; absent ones are null);
* tool-call ``arguments`` are JSON text (their keys differ per tool and may be empty);
* the ``tools`` column is JSON text (the schemas of different tools have different property structs, which
  parquet would merge into one struct padded with nulls that the chat template would then render).

:class:`~verl_pixel.data.sft_dataset.PixelSFTDataset` decodes the ``tools`` text back; verl's chat template
renders string ``arguments`` verbatim.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from verl_pixel.data.sft_schema import MESSAGE_KEYS


def normalize_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """A message with exactly the schema's keys; tool-call arguments as JSON text."""
    out = {key: message.get(key) for key in MESSAGE_KEYS}
    calls = out["tool_calls"]
    if calls:
        out["tool_calls"] = [_normalize_call(call) for call in calls]
    else:
        out["tool_calls"] = None
    return out


def _normalize_call(call: Mapping[str, Any]) -> dict[str, Any]:
    function = call.get("function", call)
    arguments = function.get("arguments", {})
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return {"type": call.get("type", "function"), "function": {"name": function["name"], "arguments": arguments}}


def normalize_sft_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row ready for parquet: uniform messages, ``tools`` as JSON text, ``images`` / ``videos`` as lists."""
    out = dict(row)
    out["messages"] = [normalize_message(message) for message in row["messages"]]
    if "tools" in row:  # no column at all when absent: verl's stock class would read a null column as pd.NA
        tools = row["tools"]
        out["tools"] = tools if isinstance(tools, str) or tools is None else json.dumps(list(tools))
    out["images"] = list(row.get("images") or [])
    out["videos"] = list(row.get("videos") or [])
    return out


def write_sft_parquet(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike) -> Path:
    """Write SFT rows (see :mod:`verl_pixel.data.sft_schema`) to ``path`` (parent folders created)."""
    return _write([normalize_sft_row(row) for row in rows], path)


def write_rl_parquet(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike) -> Path:
    """Write RL rows (see :mod:`verl_pixel.data.rl_prepare`) to ``path`` (parent folders created)."""
    return _write([dict(row) for row in rows], path)


def _write(rows: list[dict[str, Any]], path: str | os.PathLike) -> Path:
    if not rows:
        raise ValueError("no rows to write")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(out)
    return out
