"""Reading a number from a free-form answer, for counting questions (TallyQA) and numeric ground truths.

TallyQA (Acharya et al., "TallyQA: Answering Complex Counting Questions", AAAI 2019) scores a count by exact match
of the predicted integer with the ground truth; we read the model's number from its answer text and compare
values exactly (``3``, ``3.0``, ``three`` and ``3 apples`` are all 3).

Reading rules (decided here, documented for the data and eval owners):

- digits (``3``, ``1,000``, ``2.5``, ``-4``) and English number words ``zero``..``nineteen``, the tens and
  compounds (``twenty-one``, ``twenty one``) are *explicit* numbers;
- if the answer holds explicit numbers that all have the same value, that value is the answer (``3 apples``,
  ``3. I counted 3``); if it holds **different** values (``2 or 3``, ``3 apples and 2 pears``) it is ambiguous
  and reads as no number, so hedging never earns credit;
- a number stated as a bound or an estimate is not a count: ``3 or more``, ``3+``, ``at least 3``, ``over 3``,
  ``about 3``, ``~3``, ``roughly three`` read as no number (credit for them would reward hedging upwards);
- only when no explicit number is present, the words ``none``, ``no`` and ``nothing`` read as 0 (``No.``,
  ``There are no dogs``), because for a counting question that is what they mean; in ``No, there are 3`` the
  explicit 3 wins.
"""

from __future__ import annotations

import re

_UNIT_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
)
_UNITS = {word: value for value, word in enumerate(_UNIT_WORDS)}
_TENS = {
    word: 10 * (index + 2)
    for index, word in enumerate(("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"))
}
_ZERO_WORDS = frozenset({"none", "no", "nothing"})

_NUMBER_START = r"(?<![\w.])(?:-?\d|(?:" + "|".join((*_UNIT_WORDS, *_TENS)) + r")\b)"
_BEFORE_NUMBER = (
    "at least", "at most", "no more than", "no less than", "more than", "less than", "fewer than", "greater than",
    "over", "under", "up to", "about", "around", "approximately", "approx", "roughly", "nearly", "almost",
)  # fmt: skip
# A qualifier right before a number ("at least 3", "~3", ">= 3") or a bound right after it ("3 or more", "3+").
_QUALIFIED = re.compile(
    r"(?:\b(?:" + "|".join(_BEFORE_NUMBER) + r")\.?\s+|[~≈<>≤≥]=?\s*)" + _NUMBER_START
    + r"|" + _NUMBER_START + r"[\w.,-]*\s*(?:\+|\bor\s+(?:more|less|fewer|so|above|below)\b)"
)  # fmt: skip

# One token stream so that word compounds can look at their neighbour: a number in digits, or a word.
_TOKEN = re.compile(r"(?<![\w.])-?\d+(?:,\d{3})*(?:\.\d+)?(?![\d])|\d+(?:\.\d+)?|[a-z]+")


def read_number(text: str) -> float | None:
    """Read the single number an answer states.

    Args:
        text: an answer span, e.g. ``"3 apples"`` or ``"three"``.

    Returns:
        The value, or None when the text states no number, several different ones, or a bound / estimate.
    """
    lowered = text.lower()
    if _QUALIFIED.search(lowered):
        return None
    tokens = _TOKEN.findall(lowered)
    values = _explicit_values(tokens)
    if len(values) == 1:
        return values.pop()
    if not values and any(token in _ZERO_WORDS for token in tokens):
        return 0.0
    return None


def _explicit_values(tokens: list[str]) -> set[float]:
    """Collect the distinct values of the digit numbers and number words in a token stream."""
    values: set[float] = set()
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token in _TENS:
            value = _TENS[token]
            following = tokens[index + 1] if index + 1 < len(tokens) else ""
            if 0 < _UNITS.get(following, 0) < 10:
                value += _UNITS[following]
                index += 1
            values.add(float(value))
        elif token in _UNITS:
            values.add(float(_UNITS[token]))
        elif token[-1].isdigit():
            values.add(_parse_digits(token))
        index += 1
    return values


def _parse_digits(token: str) -> float:
    """Parse a digit token; thousands separators are dropped, an absurdly long one becomes ``inf``."""
    # float() never raises on a digit string (it saturates to inf), unlike int() with its 4300-digit limit.
    return float(token.replace(",", ""))
