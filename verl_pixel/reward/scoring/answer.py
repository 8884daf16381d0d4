r"""Final-answer extraction from a model response (METHOD.md §3).

The answer is, in order of preference:

1. the content of the **last** ``\boxed{...}`` whose braces balance (``\{`` and ``\}`` are literal braces);
2. the content of the last ``<answer>...</answer>`` pair;
3. the last non-empty line of the response, after dropping ``<think>`` reasoning, ``<tool_call>`` blocks and
   stray tags.

Every function here is linear in the length of the response (no backtracking regexes over the whole text), so a
runaway multi-megabyte response cannot stall a reward worker, and none of them raises on any string.
"""

from __future__ import annotations

import dataclasses
import re
from enum import Enum

_BOX_OPEN = re.compile(r"\\boxed\s*\{")
_BRACE_TOKEN = re.compile(r"\\[{}]|[{}]")
_TAG = re.compile(r"<\|?/?[A-Za-z_][\w|]{0,40}>")


class AnswerSource(str, Enum):
    """Where the final answer was found."""

    BOXED = "boxed"
    ANSWER_TAG = "answer_tag"
    LAST_LINE = "last_line"
    NONE = "none"


@dataclasses.dataclass(frozen=True)
class ExtractedAnswer:
    """The final answer of a response and where it came from.

    Attributes:
        text: the answer span, stripped; empty when the response has no answer at all.
        source: which rule found it.
    """

    text: str
    source: AnswerSource

    @property
    def is_explicit(self) -> bool:
        r"""Whether the model marked a non-empty answer (``\boxed{}`` or ``<answer>``), as the prompt asks."""
        return self.source in (AnswerSource.BOXED, AnswerSource.ANSWER_TAG) and bool(self.text)


def extract_final_answer(response: str) -> ExtractedAnswer:
    """Extract the final answer of a response.

    Args:
        response: the final assistant message (``TrajectoryRecord.answer_text``).

    Returns:
        The answer span and its source; ``ExtractedAnswer("", AnswerSource.NONE)`` when there is nothing.
    """
    boxed = last_boxed_content(response)
    if boxed is not None:
        return ExtractedAnswer(boxed.strip(), AnswerSource.BOXED)
    tagged = last_answer_tag_content(response)
    if tagged is not None:
        return ExtractedAnswer(tagged.strip(), AnswerSource.ANSWER_TAG)
    line = last_nonempty_line(response)
    if line is not None:
        return ExtractedAnswer(line, AnswerSource.LAST_LINE)
    return ExtractedAnswer("", AnswerSource.NONE)


def last_boxed_content(text: str) -> str | None:
    r"""Return the content of the last ``\boxed{...}`` with balanced braces, or None.

    "Last" is by opening position, so in ``\boxed{\boxed{3}}`` it is ``3``. An unbalanced (truncated) box is
    skipped in favour of an earlier balanced one.
    """
    box_braces = {match.end() - 1 for match in _BOX_OPEN.finditer(text)}
    if not box_braces:
        return None
    open_stack: list[int] = []
    best: tuple[int, int] | None = None
    # One pass over the braces only: each '}' closes the innermost open '{'; remember the spans that were boxes.
    for token in _BRACE_TOKEN.finditer(text, min(box_braces)):
        if len(token.group()) == 2:  # an escaped, literal brace
            continue
        if token.group() == "{":
            open_stack.append(token.start())
        elif open_stack:
            start = open_stack.pop()
            if start in box_braces and (best is None or start > best[0]):
                best = (start, token.start())
    return None if best is None else text[best[0] + 1 : best[1]]


def last_answer_tag_content(text: str) -> str | None:
    """Return the content of the last ``<answer>...</answer>`` pair, or None."""
    close = text.rfind("</answer>")
    if close < 0:
        return None
    open_ = text.rfind("<answer>", 0, close)
    if open_ < 0:
        return None
    return text[open_ + len("<answer>") : close]


def last_nonempty_line(text: str) -> str | None:
    """Return the last non-empty line after reasoning, tool calls and tags are dropped, or None."""
    think_end = text.rfind("</think>")
    if think_end >= 0:
        text = text[think_end + len("</think>") :]
    text = _drop_blocks(text, "<tool_call>", "</tool_call>")
    for line in reversed(text.splitlines()):
        stripped = _TAG.sub(" ", line).strip()
        if stripped:
            return stripped
    return None


def _drop_blocks(text: str, open_tag: str, close_tag: str) -> str:
    """Remove every ``open_tag ... close_tag`` block, and an unclosed trailing one (linear time)."""
    pieces: list[str] = []
    position = 0
    while True:
        start = text.find(open_tag, position)
        if start < 0:
            pieces.append(text[position:])
            break
        pieces.append(text[position:start])
        end = text.find(close_tag, start)
        if end < 0:
            break
        position = end + len(close_tag)
    return "".join(pieces)
