"""Reading the chosen option of a multiple-choice answer (V* Bench, HR-Bench, MME-RealWorld, MVBench).

All four benchmarks score plain accuracy: the prediction is right iff it selects the ground-truth option
(V*: Wu & Xie, "V*: Guided Visual Search as a Core Mechanism in Multimodal LLMs", CVPR 2024; HR-Bench: Wang et
al., "Divide, Conquer and Combine", AAAI 2025, scored with VLMEvalKit's option matching; MME-RealWorld: Zhang et
al. 2024; MVBench: Li et al., CVPR 2024). Like VLMEvalKit's rule-based matcher, and unlike an LLM judge, we accept
a letter or the option text and give no credit to an answer that names more than one option.

Rules, tried in order on the cleaned answer (the first that decides wins):

1. the whole answer is a letter: ``B``, ``(B)``, ``B.``, ``b``;
2. an answer naming two or more different option letters is a hedge and selects nothing: ``(A) or (B)``,
   ``(A)(B)(C)(D)``, ``A. red or B. blue``, ``A or B``, ``the answer is A or B`` (the hedge would otherwise be
   credited through whichever letter a later rule reads first);
3. it starts with a letter label: ``B. text``, ``B) text``, ``(B) text``, ``B: text`` (if the text after the
   label is exactly *another* option's text the answer contradicts itself and reads as no choice);
4. a keyword names a letter: ``the answer is (B)``, ``option B``, ``choice: B``;
5. the answer equals one option's text (VQA-normalized);
6. it contains exactly one standalone capital letter in the option range (``I think B``), not counting ``A``/``I``
   used as a word (followed by a lower-case word other than a connective: ``A or B`` names two letters);
7. it contains exactly one option's text as whole words (an option contained in a longer matched option, as
   ``red`` in ``dark red``, does not count separately).

A letter beyond the number of options reads as no choice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from verl_pixel.constants import OPTION_LETTERS
from verl_pixel.reward.scoring.text_normalization import normalize_vqa

_WHOLE_LETTER = re.compile(r"^\(?([A-Za-z])\)?\s*[.):]?$")
_LEADING_LABEL = re.compile(r"^(?:\(([A-Za-z])\)|([A-Z])\s*[.):])\s*(.*)$", flags=re.DOTALL)
# Keywords match in any case; a bare letter only in upper case, so "the answer is a cat" names no option.
_KEYWORD_LETTER = re.compile(
    r"\b(?i:answer|option|choice)\s*(?i:is|:|=)?\s*(?i:option\s+)?(?:\(([A-Za-z])\)|([A-Z])(?![\w'-]))"
)
_STANDALONE_LETTER = re.compile(r"(?<![\w'-])(?:\(([A-Z])\)|([A-Z]))(?![\w'-])")
# "A" and "I" followed by a lower-case word are the article and the pronoun, not option letters; but a connective
# after them ("A or B", "A and B", "A vs B") makes them letters again.
_WORD_AFTER = re.compile(r"\s+(?!(?:or|and|nor|vs|versus)\b)[a-z]")


def letter_index(letter: str, num_options: int) -> int | None:
    """Map an option letter (either case) to its 0-based index, or None if outside the options."""
    index = OPTION_LETTERS.find(letter.upper()) if len(letter) == 1 else -1
    return index if 0 <= index < num_options else None


def read_choice(answer: str, options: Sequence[str]) -> int | None:
    """Return the 0-based index of the option an answer selects, or None if it selects none or several.

    Args:
        answer: the cleaned answer span.
        options: the option texts, labels already stripped (``GroundTruth.options``).
    """
    whole = _WHOLE_LETTER.match(answer)
    if whole:
        return letter_index(whole.group(1), len(options))
    if _names_several_letters(answer, options):
        return None
    for rule in (_by_leading_label, _by_keyword, _by_option_text, _by_standalone_letter, _by_contained_text):
        found, index = rule(answer, options)
        if found:
            return index
    return None


def _names_several_letters(answer: str, options: Sequence[str]) -> bool:
    """Whether the answer names two or more different option letters (labels or standalone capitals)."""
    named = {letter_index(letter, len(options)) for letter in _letters(_STANDALONE_LETTER, answer)}
    named.discard(None)
    return len(named) > 1


def _by_leading_label(answer: str, options: Sequence[str]) -> tuple[bool, int | None]:
    match = _LEADING_LABEL.match(answer)
    if not match:
        return False, None
    index = letter_index(match.group(1) or match.group(2), len(options))
    rest = normalize_vqa(match.group(3))
    if index is not None and rest:
        named = [i for i, option in enumerate(options) if normalize_vqa(option) == rest]
        if named and index not in named:
            return True, None  # "B. red" where red is option A: self-contradictory
    return True, index


def _by_keyword(answer: str, options: Sequence[str]) -> tuple[bool, int | None]:
    letters = {letter.upper() for letter in _letters(_KEYWORD_LETTER, answer)}
    if not letters:
        return False, None
    return True, letter_index(letters.pop(), len(options)) if len(letters) == 1 else None


def _by_option_text(answer: str, options: Sequence[str]) -> tuple[bool, int | None]:
    normalized = normalize_vqa(answer)
    named = [i for i, option in enumerate(options) if normalize_vqa(option) == normalized and normalized]
    return (True, named[0]) if len(named) == 1 else (False, None)


def _by_standalone_letter(answer: str, options: Sequence[str]) -> tuple[bool, int | None]:
    indices = {letter_index(letter, len(options)) for letter in _letters(_STANDALONE_LETTER, answer)}
    indices.discard(None)
    return (True, indices.pop()) if len(indices) == 1 else (False, None)


def _by_contained_text(answer: str, options: Sequence[str]) -> tuple[bool, int | None]:
    padded = f" {normalize_vqa(answer)} "
    texts = {i: normalize_vqa(option) for i, option in enumerate(options)}
    matched = {i: text for i, text in texts.items() if text and f" {text} " in padded}
    # Drop options whose text lies inside a longer matched option ("red" inside "dark red").
    maximal = [
        i for i, text in matched.items() if not any(text != o and f" {text} " in f" {o} " for o in matched.values())
    ]
    return (True, maximal[0]) if len(maximal) == 1 else (False, None)


def _letters(pattern: re.Pattern[str], answer: str) -> list[str]:
    """Letters a pattern finds (group 1: in parentheses, group 2: bare), minus bare "A"/"I" used as words."""
    letters = []
    for match in pattern.finditer(answer):
        if match.group(1):
            letters.append(match.group(1))
        elif not (match.group(2) in "AI" and _WORD_AFTER.match(answer, match.end())):
            letters.append(match.group(2))
    return letters
