"""What an importer of someone else's data returns: the good rows, and every bad row with where it is and why.

The importers (``verl-pixel prepare pixel-reasoner | pixel-reasoner-rl | deepeyes``) convert one source item at a
time with :func:`convert_items`; an item that cannot be converted is skipped and kept as a
:class:`~verl_pixel.data.sft_schema.RowError` naming its row and field, so a run always ends with the rows that
were good, the count and the list of the others, and never stops half way. Writing is atomic
(:func:`verl_pixel.data.parquet_io.write_sft_parquet` / ``write_rl_parquet``): a failed write leaves no file.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from verl_pixel.data.sft_schema import RowError

logger = logging.getLogger(__name__)

LISTED_ERRORS = 20  # how many skipped rows a summary spells out


@dataclasses.dataclass
class ImportResult:
    """The outcome of one import.

    Attributes:
        rows: the converted rows, in source order.
        skipped: one error per skipped source item (its row number in the source and the field).
        source: the file read, for messages.
    """

    rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    skipped: list[RowError] = dataclasses.field(default_factory=list)
    source: str = ""

    def summary(self) -> str:
        """One line: rows kept and skipped."""
        return f"{self.source}: {len(self.rows)} rows imported, {len(self.skipped)} bad rows skipped"

    def listing(self, limit: int = LISTED_ERRORS) -> list[str]:
        """The skipped rows' errors (the first ``limit``, then how many more)."""
        lines = [str(error) for error in self.skipped[:limit]]
        if len(self.skipped) > limit:
            lines.append(f"... and {len(self.skipped) - limit} more bad rows")
        return lines


def convert_items(
    items: Iterable[tuple[int, Any]],
    convert: Callable[[Any, int], dict[str, Any]],
    source: str,
    errors: Sequence[RowError] = (),
) -> ImportResult:
    """Convert every item; a bad one is skipped and recorded, never raised.

    Args:
        items: ``(row number in the source, item)`` pairs.
        convert: the item's row; raises :class:`RowError` (or ``ValueError`` / ``TypeError`` / ``KeyError``) for a
            bad item.
        source: the file read (named in every error).
        errors: rows the reader already could not read (kept first).
    """
    result = ImportResult(source=source, skipped=list(errors))
    for number, item in items:
        try:
            result.rows.append(convert(item, number))
        except RowError as err:
            result.skipped.append(RowError(err.row_index, err.field, err.detail, file=source))
        except (ValueError, TypeError, KeyError) as err:
            field = str(err.args[0]) if isinstance(err, KeyError) else "row"
            message = "missing" if isinstance(err, KeyError) else str(err)
            result.skipped.append(RowError(number, field, message, file=source))
    if result.skipped:
        logger.warning("%s", "\n  ".join([result.summary(), *result.listing()]))
    return result
