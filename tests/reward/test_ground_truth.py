import json

import pytest

from verl_pixel.reward.scoring.ground_truth import AnswerType, GroundTruth, parse_ground_truth


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"answer": "B", "answer_type": "multiple_choice", "options": ["red", "blue"]},
            GroundTruth(AnswerType.MULTIPLE_CHOICE, ("B",), ("red", "blue"), 1),
        ),
        (
            {"answer": "(b)", "answer_type": "multiple_choice", "options": ["A. red", "B. blue"]},
            GroundTruth(AnswerType.MULTIPLE_CHOICE, ("(b)",), ("red", "blue"), 1),
        ),
        (  # answer given as option text; a label that is not the option's own letter is kept
            {"answer": "Blue", "answer_type": "multiple_choice", "options": ["(B) red", "blue"]},
            GroundTruth(AnswerType.MULTIPLE_CHOICE, ("Blue",), ("(B) red", "blue"), 1),
        ),
        (
            {"answer": "B", "answers": ["blue"], "answer_type": "multiple_choice", "options": ["red", "blue"]},
            GroundTruth(AnswerType.MULTIPLE_CHOICE, ("B", "blue"), ("red", "blue"), 1),
        ),
        ({"answer": 3, "answer_type": "number"}, GroundTruth(AnswerType.NUMBER, ("3",))),
        ({"answer": 3.0, "answer_type": "number"}, GroundTruth(AnswerType.NUMBER, ("3",))),
        ({"answer": 2.5, "answer_type": "number"}, GroundTruth(AnswerType.NUMBER, ("2.5",))),
        ({"answer": "three", "answer_type": "number"}, GroundTruth(AnswerType.NUMBER, ("three",))),
        (
            {"answer": "x", "answers": ["x", "y"], "answer_type": "short_text"},
            GroundTruth(AnswerType.SHORT_TEXT, ("x", "y")),
        ),
        ({"answers": ["42%"], "answer_type": "anls", "options": []}, GroundTruth(AnswerType.ANLS, ("42%",))),
        ({"answer": r"\frac{1}{2}", "answer_type": "math"}, GroundTruth(AnswerType.MATH, (r"\frac{1}{2}",))),
    ],
)
def test_from_mapping(data: dict, expected: GroundTruth) -> None:
    assert GroundTruth.from_mapping(data) == expected


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"answer": "x"}, "'answer_type'"),
        ({"answer": "x", "answer_type": "free_text"}, "'answer_type'"),
        ({"answer_type": "short_text"}, "'answer'"),
        ({"answer": "", "answer_type": "short_text"}, "'answer'"),
        ({"answers": [], "answer_type": "short_text"}, "'answer'"),
        ({"answers": ["ok", " "], "answer_type": "short_text"}, "'answers'"),
        ({"answer": True, "answer_type": "number"}, "'answer'"),
        ({"answer": {"a": 1}, "answer_type": "short_text"}, "'answer'"),
        ({"answer": "many", "answer_type": "number"}, "'answer'"),
        ({"answer": "2 or 3", "answer_type": "number"}, "'answer'"),
        ({"answer": float("nan"), "answer_type": "number"}, "'answer'"),
        ({"answer": "B", "answer_type": "multiple_choice"}, "'options'"),
        ({"answer": "B", "answer_type": "multiple_choice", "options": "red,blue"}, "'options'"),
        ({"answer": "B", "answer_type": "multiple_choice", "options": ["red"]}, "'options'"),
        ({"answer": "B", "answer_type": "multiple_choice", "options": ["red", None]}, "'options'"),
        ({"answer": "E", "answer_type": "multiple_choice", "options": ["red", "blue"]}, "'answer'"),
        ({"answer": "green", "answer_type": "multiple_choice", "options": ["red", "blue"]}, "'answer'"),
        ({"answer": "red", "answer_type": "multiple_choice", "options": ["red", "Red"]}, "'answer'"),
        (
            {"answer": "A", "answers": ["blue"], "answer_type": "multiple_choice", "options": ["red", "blue"]},
            "'answer'",
        ),
        ({"answer": "3", "answer_type": "number", "options": ["3", "4"]}, "'options'"),
    ],
)
def test_bad_ground_truth_names_the_field(data: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        GroundTruth.from_mapping(data)


def test_direct_construction_is_validated() -> None:
    with pytest.raises(ValueError, match="'answer'"):
        GroundTruth(AnswerType.MULTIPLE_CHOICE, ("B",), ("red", "blue"), 2)
    with pytest.raises(ValueError, match="'answer_type'"):
        GroundTruth("number", ("3",))  # type: ignore[arg-type]


def test_parse_ground_truth_accepts_object_dict_and_json() -> None:
    data = {"answer": 3, "answer_type": "number"}
    truth = GroundTruth.from_mapping(data)
    assert parse_ground_truth(truth) is truth
    assert parse_ground_truth(data) == truth
    assert parse_ground_truth(json.dumps(data)) == truth


@pytest.mark.parametrize("value", ["3", "not json", "[1, 2]", 3, None, ["a"]])
def test_parse_ground_truth_rejects_other_values(value: object) -> None:
    with pytest.raises(ValueError, match="ground truth"):
        parse_ground_truth(value)  # type: ignore[arg-type]
