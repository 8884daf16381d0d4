"""Reading benchmark files with errors that name the file, the row and the field.

Shared by the preprocessors: JSON / JSON-lines documents, tables (parquet, TSV), embedded base64 images, and a
context that turns any problem with one record into a :class:`~verl_pixel.eval.samples.PreprocessError` saying
where it is.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from verl_pixel.eval.samples import PreprocessError

TABLE_SUFFIXES = (".parquet", ".tsv")


def require_file(path: str | os.PathLike, layout: str) -> Path:
    """``path`` as a :class:`Path` if it is a file.

    Args:
        path: the file to check.
        layout: one line describing the expected layout, quoted in the error.

    Raises:
        PreprocessError: if the file does not exist.
    """
    file = Path(path)
    if not file.is_file():
        raise PreprocessError(f"missing file {file}; expected layout: {layout}")
    return file


def require_dir(path: str | os.PathLike, layout: str) -> Path:
    """``path`` as a :class:`Path` if it is a folder (see :func:`require_file`)."""
    folder = Path(path)
    if not folder.is_dir():
        raise PreprocessError(f"missing folder {folder}; expected layout: {layout}")
    return folder


def read_json(path: Path) -> Any:
    """Parse a JSON document.

    Raises:
        PreprocessError: naming the file and the position of a syntax error.
    """
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise PreprocessError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from err


def read_json_list(path: Path, key: str | None = None) -> list[Mapping[str, Any]]:
    """A JSON document that is a list of objects, or an object holding that list under ``key``.

    Raises:
        PreprocessError: if the document has another shape or an item is not an object.
    """
    document = read_json(path)
    if key is not None and isinstance(document, Mapping):
        if key not in document:
            raise PreprocessError(f"{path}: missing top-level field {key!r} (found {sorted(document)[:10]})")
        document = document[key]
    if not isinstance(document, list):
        raise PreprocessError(f"{path}: expected a JSON list of objects, got {type(document).__name__}")
    for number, item in enumerate(document):
        if not isinstance(item, Mapping):
            raise PreprocessError(f"{path}: item {number} is {type(item).__name__}, not an object")
    return document


def read_table(path: Path, required: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of a parquet or TSV table (VLMEvalKit's format) as dicts, after checking its columns.

    TSV cells are read as text without NA conversion, so an option reading "None" stays "None".

    Raises:
        PreprocessError: for an unreadable file, another suffix, or missing columns (all of them named).
    """
    import pandas as pd

    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif path.suffix == ".tsv":
            frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        else:
            raise PreprocessError(f"{path}: unsupported table type {path.suffix!r} (use {' or '.join(TABLE_SUFFIXES)})")
    except (OSError, ValueError) as err:
        if isinstance(err, PreprocessError):
            raise
        raise PreprocessError(f"{path}: cannot read table ({err})") from err
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise PreprocessError(f"{path}: missing columns {missing} (found {list(frame.columns)})")
    return frame.to_dict(orient="records")


def table_columns(path: Path) -> list[str]:
    """The column names of a parquet or TSV table, without reading its rows.

    Raises:
        PreprocessError: for an unreadable file or another suffix.
    """
    import pandas as pd
    import pyarrow.parquet as pq

    try:
        if path.suffix == ".parquet":
            return list(pq.read_schema(path).names)
        if path.suffix == ".tsv":
            return list(pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, nrows=0).columns)
    except (OSError, ValueError) as err:
        raise PreprocessError(f"{path}: cannot read table ({err})") from err
    raise PreprocessError(f"{path}: unsupported table type {path.suffix!r} (use {' or '.join(TABLE_SUFFIXES)})")


def field(record: Mapping[str, Any], name: str) -> Any:
    """``record[name]``, which must be present and not empty.

    Raises:
        ValueError: naming the field (wrapped into a located :class:`PreprocessError` by :func:`record_context`).
    """
    value = record.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(f"missing field {name!r}")
    return value


@contextlib.contextmanager
def record_context(path: Path, label: str) -> Iterator[None]:
    """Re-raise ``ValueError`` / ``KeyError`` / ``TypeError`` inside as ``PreprocessError("<path>: <label>: ...")``."""
    try:
        yield
    except PreprocessError:
        raise
    except (ValueError, KeyError, TypeError) as err:
        message = f"missing field {err.args[0]!r}" if isinstance(err, KeyError) else str(err)
        raise PreprocessError(f"{path}: {label}: {message}") from err


def embedded_image_bytes(value: Any) -> bytes:
    """Image bytes from a table cell: base64 text (VLMEvalKit TSV / HR-Bench parquet), raw bytes, or ``{"bytes"}``.

    Raises:
        ValueError: if the cell holds none of those or the base64 text is corrupt.
    """
    if isinstance(value, Mapping):
        value = value.get("bytes")
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.startswith("data:"):
            text = text.partition("base64,")[2]
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as err:
            raise ValueError(f"field 'image': not valid base64 ({err})") from err
    raise ValueError(f"field 'image': expected base64 text or bytes, got {type(value).__name__}")


def image_file(root: Path, relative: Any, label: str = "image") -> str:
    """Absolute path of an image named relative to ``root``.

    Raises:
        ValueError: naming the field and the missing path.
    """
    if not isinstance(relative, str) or not relative.strip():
        raise ValueError(f"field {label!r}: expected a file name, got {relative!r}")
    path = root / relative
    if not path.is_file():
        raise ValueError(f"field {label!r}: image file not found: {path}")
    return str(path.resolve())


def find_one(folder: Path, names: Sequence[str], layout: str) -> Path:
    """The first of ``names`` that exists in ``folder`` (or ``folder`` itself if it is a file).

    Raises:
        PreprocessError: if none exists, listing the names tried.
    """
    if folder.is_file():
        return folder
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise PreprocessError(f"none of {list(names)} found in {folder}; expected layout: {layout}")
