"""The probe plan a row carries: session -> mode in METHOD §2 order, the row field's round trip and its errors."""

import numpy as np
import pytest

from verl_pixel.record import RolloutMode
from verl_pixel.rollout.probe_plan import ProbePlan, plan_of_row

ADAPT, FORCE, NO = RolloutMode.ADAPTIVE, RolloutMode.FORCE_TOOL, RolloutMode.NO_TOOL


def test_sessions_take_adaptive_then_force_tool_then_no_tool() -> None:
    plan = ProbePlan("k", adaptive=2, force_tool=1, no_tool=2, reason="leaning")
    assert plan.group_size == 5 and plan.probes == 3
    assert [plan.mode_for_session(i) for i in range(6)] == [ADAPT, ADAPT, FORCE, NO, NO, ADAPT]
    assert plan.mode_for_session(None) is ADAPT  # a legacy trainer passes no session id


def test_settled_plan_is_all_adaptive() -> None:
    plan = ProbePlan("k", 8, 0, 0, "settled")
    assert plan.group_size == 8 and {plan.mode_for_session(i) for i in range(8)} == {ADAPT}


def test_row_field_round_trip_with_numpy_scalars() -> None:
    plan = ProbePlan("vstar/3/abc", 8, 4, 4, "new")
    field = plan.to_row_field()
    assert field == {"key": "vstar/3/abc", "adaptive": 8, "force_tool": 4, "no_tool": 4, "reason": "new"}
    through_verl = {**field, "adaptive": np.int64(8), "no_tool": np.int32(4)}
    assert plan_of_row({"index": 3, "pixel_probe_plan": through_verl}) == plan


def test_rows_without_a_plan() -> None:
    assert plan_of_row({"index": 3}) is None
    assert plan_of_row(None) is None
    assert plan_of_row({"pixel_probe_plan": None}) is None


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ({"key": "k", "adaptive": 8, "force_tool": 4}, "missing no_tool"),
        ({"key": "k", "adaptive": 8, "force_tool": -1, "no_tool": 0}, r"force_tool: expected an integer >= 0"),
        ({"key": "k", "adaptive": 8, "force_tool": 1.5, "no_tool": 0}, r"force_tool: expected an integer"),
        ({"key": "k", "adaptive": 0, "force_tool": 0, "no_tool": 0}, "at least one rollout"),
        ({"key": "k", "adaptive": 8, "force_tool": 0, "no_tool": 0, "reason": "why"}, "reason: 'why'"),
        ("plan", "expected a mapping"),
    ],
)
def test_malformed_plan_names_the_field(field, message) -> None:
    with pytest.raises(ValueError, match=f"pixel_probe_plan.*{message}"):
        plan_of_row({"pixel_probe_plan": field})
