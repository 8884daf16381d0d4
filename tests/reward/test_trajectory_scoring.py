import pytest

from verl_pixel.record import RolloutMode, StopReason, TrajectoryRecord
from verl_pixel.reward.config import FormatConfig
from verl_pixel.reward.scoring.answer import AnswerSource, ExtractedAnswer
from verl_pixel.reward.scoring.trajectory_score import TrajectoryScore, format_score, score_response, score_trajectory
from verl_pixel.reward.shaping.shaped_reward import ScoredRollout

TRUTH = {"answer": "B", "answer_type": "multiple_choice", "options": ["red", "blue"]}


def test_score_trajectory_correct_and_well_formed() -> None:
    record = TrajectoryRecord(ops_attempted=1, ops_succeeded=1, answer_text=r"Zoomed. \boxed{B}")
    assert score_trajectory(record, TRUTH) == TrajectoryScore(1.0, 0.0, "B", AnswerSource.BOXED)


@pytest.mark.parametrize(
    ("record", "config", "fmt"),
    [
        (TrajectoryRecord(answer_text=r"\boxed{B}"), FormatConfig(), 0.0),
        # a failed operation (malformed call, bad arguments) is a format error...
        (
            TrajectoryRecord(ops_attempted=2, ops_succeeded=1, ops_failed=1, answer_text=r"\boxed{B}"),
            FormatConfig(),
            -1.0,
        ),
        # ...unless switched off
        (
            TrajectoryRecord(ops_failed=1, answer_text=r"\boxed{B}"),
            FormatConfig(penalize_failed_ops=False),
            0.0,
        ),
        # no boxed / tagged answer: format error, though the last line may still be scored
        (TrajectoryRecord(answer_text="The answer is B"), FormatConfig(), -1.0),
        (TrajectoryRecord(answer_text="The answer is B"), FormatConfig(require_explicit_answer=False), 0.0),
        (TrajectoryRecord(answer_text=r"\boxed{}"), FormatConfig(), -1.0),
        (TrajectoryRecord(answer_text="<answer>B</answer>"), FormatConfig(), 0.0),
        # both errors still give -1 (r_fmt is in {-1, 0})
        (TrajectoryRecord(ops_failed=3, answer_text=""), FormatConfig(), -1.0),
    ],
)
def test_format_score(record: TrajectoryRecord, config: FormatConfig, fmt: float) -> None:
    assert score_trajectory(record, TRUTH, config).fmt == fmt


def test_last_line_answer_still_scores_accuracy() -> None:
    score = score_trajectory(TrajectoryRecord(answer_text="The answer is B"), TRUTH)
    assert (score.acc, score.fmt, score.answer_source) == (1.0, -1.0, AnswerSource.LAST_LINE)


def test_bad_ground_truth_raises_bad_output_does_not() -> None:
    with pytest.raises(ValueError, match="'options'"):
        score_trajectory(TrajectoryRecord(answer_text="B"), {"answer": "B", "answer_type": "multiple_choice"})
    garbage = TrajectoryRecord(answer_text="\x00\\boxed{{{\ud800" + "}" * 10)
    assert score_trajectory(garbage, TRUTH).acc == 0.0


def test_scorer_bug_scores_zero_and_logs(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from verl_pixel.reward.scoring import trajectory_score as scoring
    from verl_pixel.reward.scoring.ground_truth import GroundTruth

    def broken(answer: str, truth: GroundTruth) -> float:
        raise RuntimeError("bug")

    monkeypatch.setattr(scoring, "score_answer", broken)
    assert score_response(r"\boxed{B}", GroundTruth.from_mapping(TRUTH)) == (
        0.0,
        ExtractedAnswer("B", AnswerSource.BOXED),
    )
    assert "answer scorer failed" in caplog.text


def test_extra_info_round_trip() -> None:
    record = TrajectoryRecord(
        mode=RolloutMode.FORCE_TOOL, ops_attempted=2, ops_succeeded=1, ops_failed=1, answer_text=r"\boxed{A}"
    )
    score = score_trajectory(record, TRUTH)
    extra = {**record.to_extra_fields(), **score.to_extra_info()}
    assert extra["pixel/acc"] == 0.0 and extra["pixel/fmt"] == -1.0 and extra["pixel/answer_source"] == "boxed"
    assert ScoredRollout.from_extra_fields(extra) == ScoredRollout(record, 0.0, -1.0)


def test_from_extra_fields_requires_acc() -> None:
    with pytest.raises(ValueError, match="pixel/acc"):
        ScoredRollout.from_extra_fields(TrajectoryRecord(stop_reason=StopReason.ABORTED).to_extra_fields())


@pytest.mark.parametrize(("acc", "fmt"), [(1.5, 0.0), (-0.1, 0.0), (float("nan"), 0.0), (True, 0.0), (1.0, 0.5)])
def test_scored_rollout_rejects_out_of_range_scores(acc: float, fmt: float) -> None:
    with pytest.raises(ValueError, match="ScoredRollout"):
        ScoredRollout(TrajectoryRecord(), acc, fmt)


def test_format_score_direct() -> None:
    explicit = ExtractedAnswer("B", AnswerSource.BOXED)
    assert format_score(TrajectoryRecord(), explicit, FormatConfig()) == 0.0
    assert format_score(TrajectoryRecord(ops_failed=1), explicit, FormatConfig()) == -1.0
