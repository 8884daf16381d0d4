"""Scorer tables per answer type (each row: the model's full final message, the expected r_acc)."""

import logging
import sys
import time
import types

import pytest

from verl_pixel.reward.scoring import math_answer
from verl_pixel.reward.scoring.ground_truth import GroundTruth
from verl_pixel.reward.scoring.trajectory_score import score_answer, score_response

# V* attribute question: 4 options, answer B.
VSTAR = GroundTruth.from_mapping(
    {"answer": "B", "answer_type": "multiple_choice", "options": ["red", "blue", "dark red", "white"]}
)
# MME-RealWorld style: labels inside the option texts, 5 options, answer given as option text.
MME = GroundTruth.from_mapping(
    {"answer": "4", "answer_type": "multiple_choice", "options": ["(A) 2", "(B) 3", "(C) 4", "(D) 5", "(E) none"]}
)


@pytest.mark.parametrize(
    ("response", "score"),
    [
        (r"\boxed{B}", 1.0),
        (r"\boxed{(B)}", 1.0),
        (r"\boxed{B.}", 1.0),
        (r"\boxed{b}", 1.0),
        (r"\boxed{B) blue}", 1.0),
        (r"\boxed{(B) blue}", 1.0),
        (r"\boxed{blue}", 1.0),
        (r"\boxed{Blue.}", 1.0),
        (r"\boxed{\text{B}}", 1.0),
        ("\\boxed{\uff22}", 1.0),  # full-width B (NFKC)
        ("The answer is B", 1.0),
        ("Reasoning...\nthe correct option is (B) because it is blue", 1.0),
        ("I think B is right", 1.0),
        ("The car is blue.", 1.0),
        ("<answer>Option B</answer>", 1.0),
        # wrong, ambiguous or self-contradictory
        (r"\boxed{A}", 0.0),
        (r"\boxed{red}", 0.0),
        (r"\boxed{dark red}", 0.0),  # "red" inside "dark red" does not count as option A... nor as B
        (r"\boxed{B. red}", 0.0),  # letter B, text of option A: contradicts itself
        (r"\boxed{B or C}", 0.0),
        ("option B or option C", 0.0),
        ("red or blue", 0.0),
        (r"\boxed{F}", 0.0),  # beyond the options
        (r"\boxed{the answer is a cat}", 0.0),  # "a" the article, not option A
        (r"\boxed{}", 0.0),
        ("", 0.0),
        (r"\boxed{A B C D}", 0.0),
        ("red blue " * 10_000, 0.0),  # names two options
    ],
)
def test_multiple_choice_vstar(response: str, score: float) -> None:
    assert score_response(response, VSTAR)[0] == score


# Hedges that name several options score 0 whichever of them is right (reliability probe §7: each of these was
# credited before the several-letters rule).
VSTAR_A = GroundTruth.from_mapping(
    {"answer": "A", "answer_type": "multiple_choice", "options": ["red", "blue", "green", "white"]}
)


@pytest.mark.parametrize(
    ("truth", "response"),
    [
        (VSTAR_A, r"\boxed{(A) or (B)}"),
        (VSTAR_A, r"\boxed{(A)(B)(C)(D)}"),
        (VSTAR_A, r"\boxed{A. red or B. blue}"),
        (VSTAR_A, "(A) red or (B) blue"),
        (VSTAR_A, r"\boxed{A) or B)}"),
        (VSTAR_A, "the answer is (A), but maybe (B)"),
        (VSTAR_A, r"\boxed{A: red, B: blue}"),
        (VSTAR, r"\boxed{A or B}"),
        (VSTAR, "either A or B"),
        (VSTAR, "the answer is A or B"),
        (VSTAR, "Not sure between A and B"),
        (VSTAR, r"\boxed{A and/or B}"),
    ],
)
def test_multiple_choice_hedges_score_zero(truth: GroundTruth, response: str) -> None:
    assert score_response(response, truth)[0] == 0.0


@pytest.mark.parametrize(
    ("response", "score"),
    [(r"\boxed{A}", 1.0), (r"\boxed{(A) red}", 1.0), (r"\boxed{A. red}", 1.0), ("A cat? No: \\boxed{A}", 1.0)],
)
def test_multiple_choice_single_letter_still_scores(response: str, score: float) -> None:
    assert score_response(response, VSTAR_A)[0] == score


@pytest.mark.parametrize(
    ("response", "score"),
    [(r"\boxed{C}", 1.0), (r"\boxed{(C) 4}", 1.0), (r"\boxed{4}", 1.0), (r"\boxed{(C)}", 1.0), (r"\boxed{3}", 0.0)],
)
def test_multiple_choice_option_labels_in_options(response: str, score: float) -> None:
    assert MME.options == ("2", "3", "4", "5", "none")
    assert score_response(response, MME)[0] == score


TALLY = GroundTruth.from_mapping({"answer": 3, "answer_type": "number"})
TALLY_ZERO = GroundTruth.from_mapping({"answer": "0", "answer_type": "number"})


@pytest.mark.parametrize(
    ("response", "score"),
    [
        (r"\boxed{3}", 1.0),
        (r"\boxed{3.0}", 1.0),
        (r"\boxed{three}", 1.0),
        (r"\boxed{Three}", 1.0),
        (r"\boxed{3 apples}", 1.0),
        (r"\boxed{\text{3 apples}}", 1.0),
        ("There are 3 apples. Final count: 3", 1.0),
        ("No, there are 3.", 1.0),  # the explicit number wins over "no"
        ("\\boxed{\uff13}", 1.0),  # full-width digit
        (r"\boxed{2 or 3}", 0.0),  # hedging is ambiguous
        (r"\boxed{3 apples and 2 pears}", 0.0),
        (r"\boxed{4}", 0.0),
        (r"\boxed{30}", 0.0),
        (r"\boxed{3rd}", 1.0),
        (r"\boxed{}", 0.0),
        (r"\boxed{many}", 0.0),
        ("9" * 5000, 0.0),  # overflows to inf: no crash
        # a bound or an estimate is not a count (reliability probe §7: each was credited before)
        (r"\boxed{3 or more}", 0.0),
        (r"\boxed{at least 3}", 0.0),
        (r"\boxed{about 3}", 0.0),
        (r"\boxed{3+}", 0.0),
        (r"\boxed{~3}", 0.0),
        (r"\boxed{roughly three}", 0.0),
        (r"\boxed{3 or so}", 0.0),
        ("There are 3 cars over the bridge", 1.0),  # "over" after the number is a preposition
        ("3 people about to cross: \\boxed{3}", 1.0),
    ],
)
def test_number_tallyqa(response: str, score: float) -> None:
    assert score_response(response, TALLY)[0] == score


@pytest.mark.parametrize(
    ("response", "score"),
    [(r"\boxed{0}", 1.0), (r"\boxed{zero}", 1.0), (r"\boxed{none}", 1.0), ("No.", 1.0), (r"\boxed{No dogs}", 1.0)],
)
def test_number_zero_words(response: str, score: float) -> None:
    assert score_response(response, TALLY_ZERO)[0] == score


def test_number_words_and_separators() -> None:
    big = GroundTruth.from_mapping({"answer": "1,000", "answer_type": "number"})
    assert score_answer("1000", big) == 1.0
    assert score_answer("1,000 people", big) == 1.0
    compound = GroundTruth.from_mapping({"answer": 21, "answer_type": "number"})
    assert score_answer("twenty-one", compound) == 1.0
    assert score_answer("twenty one", compound) == 1.0
    assert score_answer("twenty", compound) == 0.0


SHORT = GroundTruth.from_mapping({"answers": ["the Eiffel Tower", "eiffel tower"], "answer_type": "short_text"})
SPANS = GroundTruth.from_mapping({"answer": "red, white, blue", "answer_type": "short_text"})
SALT = GroundTruth.from_mapping({"answer": "salt and pepper, ketchup", "answer_type": "short_text"})


@pytest.mark.parametrize(
    ("response", "truth", "score"),
    [
        (r"\boxed{Eiffel Tower}", SHORT, 1.0),
        (r"\boxed{The Eiffel-Tower!}", SHORT, 1.0),
        (r"\boxed{eiffel tower.}", SHORT, 1.0),
        (r"\boxed{an Eiffel Tower}", SHORT, 1.0),  # articles dropped
        (r"\boxed{Eiffel}", SHORT, 0.0),
        (r"\boxed{the Eiffel Tower in Paris}", SHORT, 0.0),
        (r"\boxed{red, white, blue}", SPANS, 1.0),
        (r"\boxed{blue, red and white}", SPANS, 1.0),
        (r"\boxed{White; Blue; Red}", SPANS, 1.0),
        (r"\boxed{red, white}", SPANS, 0.0),  # a span missing
        (r"\boxed{red, white, blue, green}", SPANS, 0.0),  # listing extra spans earns nothing
        (r"\boxed{ketchup, salt and pepper}", SALT, 1.0),
        (r"\boxed{ketchup and salt and pepper}", SALT, 0.0),
        (r"\boxed{}", SHORT, 0.0),
    ],
)
def test_short_text(response: str, truth: GroundTruth, score: float) -> None:
    assert score_response(response, truth)[0] == score


INFOVQA = GroundTruth.from_mapping({"answers": ["42.7%", "42.7 percent"], "answer_type": "anls"})


@pytest.mark.parametrize(
    ("response", "score"),
    [
        (r"\boxed{42.7%}", 1.0),
        (r"\boxed{  42.7%  }", 1.0),
        (r"\boxed{42.7 %}", 1.0 - 1 / 6),  # vs "42.7%": 1 insertion / 6 chars
        (r"\boxed{42.1%}", 1.0 - 1 / 5),  # one substitution in five characters
        # max over ground truths: "42.7 percent" is the closer one
        (r"\boxed{42.7 Percent}", 1.0),
        # NL = 3/5 = 0.6: similarity 0.4 < tau -> 0
        (r"\boxed{41.0}", 0.0),
        (r"\boxed{}", 0.0),
        ("x" * 100_000, 0.0),
    ],
)
def test_anls_infovqa(response: str, score: float) -> None:
    assert score_response(response, INFOVQA)[0] == pytest.approx(score, abs=1e-12)


def test_anls_threshold_boundary_follows_the_official_script() -> None:
    # "abcd" vs "abxy": NL = 2/4 = 0.5 -> 1 - NL = 0.5 is not below tau, so it is kept (RRC/DocVQA script);
    # "abcd" vs "axyz": NL = 3/4 -> 0.25 < tau -> 0; "abcd" vs "abcx": 0.75
    truth = GroundTruth.from_mapping({"answer": "abcd", "answer_type": "anls"})
    assert score_answer("abxy", truth) == 0.5
    assert score_answer("axyz", truth) == 0.0
    assert score_answer("abcx", truth) == 0.75


MATH = GroundTruth.from_mapping({"answer": r"\frac{1}{2}", "answer_type": "math"})


@pytest.fixture
def no_math_verify(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "math_verify", None)  # import raises ImportError
    math_answer._math_verify.cache_clear()
    yield
    math_answer._math_verify.cache_clear()


@pytest.mark.parametrize(
    ("response", "score"),
    [
        (r"\boxed{\frac{1}{2}}", 1.0),
        (r"\boxed{\dfrac{1}{2}}", 1.0),
        (r"\boxed{ \frac{1}{2} }", 1.0),
        (r"\boxed{$\frac{1}{2}$}", 1.0),
        (r"\boxed{\frac{1}{3}}", 0.0),
        (r"\boxed{}", 0.0),
    ],
)
def test_math_fallback(no_math_verify: None, response: str, score: float) -> None:
    assert score_response(response, MATH)[0] == score


def test_math_fallback_numbers(no_math_verify: None) -> None:
    truth = GroundTruth.from_mapping({"answer": "1,000", "answer_type": "math"})
    assert score_answer("1000", truth) == 1.0
    assert score_answer("x = 1000, y = 2", truth) == 0.0


def test_math_verify_missing_warns_once(no_math_verify: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="verl_pixel.reward.scoring.math_answer"):
        for _ in range(3):
            score_answer("1", MATH)
    assert [r.message for r in caplog.records].count(
        "math-verify is not installed: math answers fall back to normalized string/number matching"
    ) == 1


def _fake_math_verify(verify_result: bool, *, raises: bool = False) -> types.ModuleType:
    module = types.ModuleType("math_verify")
    calls: list[tuple[str, object]] = []

    def parse(text: str, parsing_timeout: object = None) -> list[str]:
        calls.append((text, parsing_timeout))
        if raises:
            raise RuntimeError("sympy exploded")
        return [text]

    def verify(gold: list[str], predicted: list[str], timeout_seconds: object = None) -> bool:
        return verify_result

    module.parse, module.verify, module.calls = parse, verify, calls
    return module


@pytest.mark.parametrize("verdict", [True, False])
def test_math_uses_math_verify_when_installed(monkeypatch: pytest.MonkeyPatch, verdict: bool) -> None:
    fake = _fake_math_verify(verdict)
    monkeypatch.setitem(sys.modules, "math_verify", fake)
    math_answer._math_verify.cache_clear()
    try:
        assert score_answer("0.5", MATH) == (1.0 if verdict else 0.0)
        assert fake.calls[0] == (r"\boxed{0.5}", 5)  # both sides boxed; timeouts on in the main thread
    finally:
        math_answer._math_verify.cache_clear()


def test_math_verify_errors_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "math_verify", _fake_math_verify(True, raises=True))
    math_answer._math_verify.cache_clear()
    try:
        assert score_answer(r"\frac{1}{2}", MATH) == 1.0
        assert score_answer(r"\frac{1}{3}", MATH) == 0.0
    finally:
        math_answer._math_verify.cache_clear()


@pytest.mark.parametrize("truth", [VSTAR, TALLY, SHORT, SPANS, INFOVQA, MATH])
@pytest.mark.parametrize(
    "answer",
    ["{" * 100_000, "A " * 100_000, "1 " * 100_000, "red, " * 50_000, "\\frac{" * 50_000, "\U0001f600" * 100_000],
)
def test_huge_answers_score_quickly(no_math_verify: None, truth: GroundTruth, answer: str) -> None:
    start = time.perf_counter()
    assert score_answer(answer, truth) == 0.0
    assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize("truth", [VSTAR, TALLY, SHORT, SPANS, INFOVQA])
@pytest.mark.parametrize("response", [None, 3, b"\\boxed{B}"])
def test_non_text_responses_score_zero(truth: GroundTruth, response: object) -> None:
    acc, extracted = score_response(response, truth)  # type: ignore[arg-type]
    assert (acc, extracted.text, extracted.source.value) == (0.0, "", "none")
