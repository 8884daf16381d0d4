"""Text clean-up shared by the answer scorers: answer-span cleaning and the VQA answer normalization.

Two layers, applied in this order:

1. :func:`clean_answer_text` turns an extracted answer span into plain text (Unicode NFKC, LaTeX text macros
   unwrapped, ``$`` removed, a leading "The answer is" dropped). This is part of answer *extraction*, not of a
   metric, so it runs before every scorer except math, whose parser wants the LaTeX as written.
2. :func:`normalize_vqa` is the answer normalization of the official VQA evaluation script
   (``vqaEval.py`` in GT-Vision-Lab/VQA, used by VQA v2 and TallyQA-style open answers; Antol et al. 2015): newlines
   to spaces, punctuation removed or replaced by a space, periods not followed by a digit stripped, lower case,
   number words ``none``/``zero``..``ten`` mapped to digits, articles ``a``/``an``/``the`` dropped.
"""

from __future__ import annotations

import re
import unicodedata

# Curly quotes and dashes that NFKC leaves alone but that models emit interchangeably with the ASCII forms.
_TYPOGRAPHIC = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})
_LATEX_TEXT_MACRO = re.compile(
    r"\\(?:text|textbf|textit|textrm|texttt|mathrm|mathbf|mathit|operatorname)\s*\{([^{}]*)\}"
)
_LATEX_SPACING = re.compile(r"\\[,;:! ]")
_ANSWER_PREFIX = re.compile(
    r"^\s*(?:so\s*,?\s*)?(?:the\s+)?(?:final\s+|correct\s+)?answer\s*(?:is\s*:?|:|=)\s*", flags=re.IGNORECASE
)
# Unwrapping nested macros needs one pass per nesting level; real answers nest at most two or three deep.
_MAX_MACRO_PASSES = 8

# --- the VQA evaluation script's tables (vqaEval.py, processPunctuation / processDigitArticle) ---
_VQA_PUNCT = (";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!")
_VQA_COMMA_BETWEEN_DIGITS = re.compile(r"(\d)(,)(\d)")
# The script's regex is ``(?!<=\d)(\.)(?!\d)``; its first group is a no-op lookahead, so in effect it strips every
# period that is not followed by a digit. We write down that effective behaviour.
_VQA_PERIOD_STRIP = re.compile(r"\.(?!\d)")
_VQA_NUMBER_WORDS = {
    "none": "0",
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}
_VQA_ARTICLES = frozenset({"a", "an", "the"})


def clean_answer_text(text: str) -> str:
    r"""Turn an extracted answer span into plain, comparable text.

    Args:
        text: the answer span as the model wrote it (e.g. the content of ``\boxed{}``).

    Returns:
        The text with Unicode compatibility forms folded (NFKC: full-width letters and digits become ASCII),
        typographic quotes made ASCII, ``\text{...}``-style macros unwrapped, ``$`` and LaTeX spacing removed,
        a leading "The answer is" / "Answer:" dropped and whitespace collapsed.
    """
    out = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHIC)
    for _ in range(_MAX_MACRO_PASSES):
        unwrapped = _LATEX_TEXT_MACRO.sub(r"\1", out)
        if unwrapped == out:
            break
        out = unwrapped
    out = _LATEX_SPACING.sub(" ", out).replace("$", "")
    out = " ".join(out.split())
    return _ANSWER_PREFIX.sub("", out, count=1).strip()


def normalize_vqa(text: str) -> str:
    """Normalize an answer the way the official VQA evaluation script does.

    Reference: ``vqaEval.py`` of the VQA API (GT-Vision-Lab/VQA; Antol et al., "VQA: Visual Question Answering",
    ICCV 2015), functions ``processPunctuation`` and ``processDigitArticle``. Two deliberate differences, both
    applied to the ground truth and the prediction alike: the script's contraction table (``dont`` -> ``don't``,
    ``youre`` -> ``you're``, ...) is replaced by dropping apostrophes, which makes every such pair equal; and
    periods are stripped everywhere (the script passes ``re.UNICODE`` as the ``count`` argument of ``sub`` and so
    stops after 32).

    Args:
        text: an answer, ground truth or prediction.

    Returns:
        The normalized answer; tokens separated by single spaces.
    """
    flat = text.replace("\n", " ").replace("\t", " ").strip()
    out = flat
    strip_all = _VQA_COMMA_BETWEEN_DIGITS.search(flat) is not None
    for mark in _VQA_PUNCT:
        # The script tests the original string, not the partially processed one: keep that quirk.
        glued = strip_all or f"{mark} " in flat or f" {mark}" in flat
        out = out.replace(mark, "" if glued else " ")
    out = _VQA_PERIOD_STRIP.sub("", out).replace("'", "")
    words = [_VQA_NUMBER_WORDS.get(word, word) for word in out.lower().split()]
    return " ".join(word for word in words if word not in _VQA_ARTICLES)
