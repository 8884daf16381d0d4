"""The group step's translation between verl's stored trajectories and the pure core (no TransferQueue here)."""

from __future__ import annotations

import pytest

from verl_pixel.record import RolloutMode, TrajectoryRecord
from verl_pixel.reward.config import ShapingConfig
from verl_pixel.reward.shaping.group_step import TrajectoryKey, rollout_fields, shape_stored_groups
from verl_pixel.reward.shaping.metrics import step_metrics

ADAPTIVE, FORCE, NO = RolloutMode.ADAPTIVE, RolloutMode.FORCE_TOOL, RolloutMode.NO_TOOL


def stored(acc: float, ops: int = 0, mode: RolloutMode = ADAPTIVE, complied: bool = True) -> dict:
    """``extra_fields`` as verl stores them: the agent loop's record plus the reward manager's reward_extra_info."""
    record = TrajectoryRecord(mode=mode, complied=complied, ops_attempted=ops, ops_succeeded=ops)
    info = {"acc": acc, "pixel/acc": acc, "pixel/fmt": 0.0, "pixel/answer_source": "boxed"}
    return {**record.to_extra_fields(), "min_global_steps": 1, "max_global_steps": 1, "reward_extra_info": info}


def look_less(probe_gradient: str = "own_group", probe_accuracy: str = "complied") -> ShapingConfig:
    return ShapingConfig.from_mapping(
        {"method": "look_less", "look_less": {"probe_gradient": probe_gradient, "probe_accuracy": probe_accuracy}}
    )


def test_key_parsing_matches_verl():
    assert TrajectoryKey.parse("3f2a-9c_12_0") == TrajectoryKey("3f2a-9c", 12, 0)
    with pytest.raises(ValueError, match="session_id"):
        TrajectoryKey.parse("3f2a-9c")


def _one_disobeying_no_tool_probe() -> list[tuple[str, dict]]:
    """uid "p": adaptive sessions 0-1, force_tool 2-3, no_tool 4-5 (the last tried a call: it disobeyed)."""
    return [
        ("p_0_0", stored(1.0, 1)),
        ("p_1_0", stored(0.0, 0)),
        ("p_2_0", stored(1.0, 1, FORCE)),
        ("p_3_0", stored(1.0, 2, FORCE)),
        ("p_4_0", stored(1.0, 0, NO)),
        ("p_5_0", stored(0.0, 0, NO, complied=False)),
    ]


def test_look_less_group_scores_uids_and_components():
    # uid "p": adaptive sessions 0-1, force_tool 2-3, no_tool 4-5 (METHOD §2 order); probe_accuracy "all":
    # acc_tool 1.0 > acc_no 0.5 (the disobeying no_tool rollout counts)
    rows = _one_disobeying_no_tool_probe()
    result = shape_stored_groups([k for k, _ in rows], [f for _, f in rows], look_less(probe_accuracy="all"))
    assert [u.score for u in result.updates] == [1.5, -0.1, 1.5, 1.5, 1.5, 0.0]
    assert [u.advantage_uid for u in result.updates] == [
        "p/adaptive",
        "p/adaptive",
        "p/force_tool",
        "p/force_tool",
        "p/no_tool",
        "p/no_tool",
    ]
    assert all(u.trainable for u in result.updates)
    assert result.groups["p"].info.need is True
    info = result.updates[1].extra_fields["reward_extra_info"]
    assert info == {
        **stored(0.0)["reward_extra_info"],
        "pixel/shaped/total": -0.1,
        "pixel/shaped/acc_term": 0.0,
        "pixel/shaped/fmt_term": 0.0,
        "pixel/shaped/curiosity_bonus": 0.0,
        "pixel/shaped/redundancy_penalty": 0.0,
        "pixel/shaped/instr_bonus": 0.0,
        "pixel/shaped/alignment_bonus": -0.1,
        "pixel/shaped/tool_bonus": 0.0,
        "pixel/shaped/tool_benefit": 0.0,
        "pixel/shaped/tool_efficiency": 0.0,
        "pixel/advantage_group": "adaptive",
        "pixel/trainable": True,
        "pixel/group/rapr": 0.5,
        "pixel/group/need": 1.0,
        "pixel/group/filter_reward": -0.1,  # the group is not uniform: the rollout's own total
    }
    # everything else in extra_fields is kept (verl reads min/max_global_steps from it)
    assert result.updates[1].extra_fields["min_global_steps"] == 1


def test_probes_off_are_frozen_and_pooled_shares_the_uid():
    keys = ["p_0_0", "p_1_0", "p_2_0"]
    fields = [stored(1.0, 1), stored(1.0, 1, FORCE), stored(0.0, 0, NO)]
    off = shape_stored_groups(keys, fields, look_less("off")).updates
    assert [(u.advantage_uid, u.score, u.trainable) for u in off] == [
        ("p/adaptive", 1.5, True),
        ("p/frozen", 0.0, False),
        ("p/frozen", 0.0, False),
    ]
    assert off[1].extra_fields["reward_extra_info"]["pixel/shaped/total"] == 1.5  # the shaped value is still reported
    pooled = shape_stored_groups(keys, fields, look_less("pooled")).updates
    assert [u.advantage_uid for u in pooled] == ["p", "p", "p"]


def test_multi_output_sessions_use_the_final_output_and_share_its_value():
    # session 0 has outputs 0 and 1 (final); its earlier output carries a stale record that must be ignored
    keys = ["q_0_0", "q_0_1", "q_1_0", "q_2_0", "q_3_0"]
    fields = [stored(0.0, 0), stored(1.0, 1), stored(0.0), stored(0.0), stored(0.0)]
    config = ShapingConfig.from_mapping({"method": "curiosity"})
    result = shape_stored_groups(keys, fields, config)
    bonus = 0.5 * (0.3 - 0.25)  # RaPR 1/4 over the 4 sessions
    assert [u.score for u in result.updates] == [1.0 + bonus, 1.0 + bonus, 0.0, 0.0, 0.0]
    assert result.groups["q"].info.size == 4


def test_shaping_again_from_written_fields_gives_the_same_values():
    keys = [f"r_{i}_0" for i in range(4)]
    fields = [stored(1.0, 1), stored(1.0, 0), stored(0.0, 3), stored(1.0, 0)]
    config = ShapingConfig.from_mapping({"method": "curiosity"})
    first = shape_stored_groups(keys, fields, config)
    again = shape_stored_groups(keys, [u.extra_fields for u in first.updates], config)
    assert again.updates == first.updates


def test_several_groups_in_any_order():
    keys = ["b_1_0", "a_0_0", "b_0_0", "a_1_0"]
    fields = [stored(0.0), stored(1.0, 1), stored(1.0), stored(1.0)]
    result = shape_stored_groups(keys, fields, ShapingConfig.from_mapping({"method": "curiosity"}))
    assert [u.key for u in result.updates] == keys
    assert set(result.groups) == {"a", "b"}
    assert [u.score for u in result.updates] == [0.0, 1.0, 1.0, 1.0]  # RaPR(a) = 0.5 > H: no bonus


def test_unscored_trajectory_names_the_fix():
    fields = {**TrajectoryRecord().to_extra_fields(), "reward_extra_info": {"score": 1.0}}
    with pytest.raises(ValueError, match=r"p_0_0.*pixel/acc.*reward_manager.name=pixel"):
        shape_stored_groups(["p_0_0"], [fields], ShapingConfig())


def test_rollout_fields_prefer_reward_extra_info():
    assert rollout_fields({"pixel/acc": 0.0, "reward_extra_info": {"pixel/acc": 1.0}})["pixel/acc"] == 1.0


def test_look_less_need_counts_only_probes_that_obeyed_their_mode():
    """probe_accuracy "complied" (default): the disobeying no_tool rollout is left out, so acc_no = 1.0 = acc_tool,
    need(x) = 0 (a tie), and the adaptive tool call is the unneeded one: 1 + 0.5 * c2 = 0.9, the wrong text answer
    0 + 0.5 * c3 = 0.1."""
    rows = _one_disobeying_no_tool_probe()
    result = shape_stored_groups([k for k, _ in rows], [f for _, f in rows], look_less())
    assert [u.score for u in result.updates] == [0.9, 0.1, 1.5, 1.5, 1.5, 0.0]
    assert result.groups["p"].info.need is False
    assert (result.groups["p"].info.acc_tool, result.groups["p"].info.acc_no) == (1.0, 1.0)


def test_look_less_without_an_obeying_force_tool_probe_leaves_need_undefined():
    """The collapse the first look-or-not run showed: force_tool probes that answered without looking (correctly,
    by luck) would make acc_tool = acc_no and need(x) = 0, penalizing the adaptive call 1 + 0.5 * c2 = 0.9. Counting
    only obeying probes, acc_tool is undefined: no alignment term, the adaptive rollouts keep r_acc (1.0, 0.0)."""
    rows = [
        ("p_0_0", stored(1.0, 1)),
        ("p_1_0", stored(0.0, 0)),
        ("p_2_0", stored(1.0, 0, FORCE, complied=False)),
        ("p_3_0", stored(1.0, 0, FORCE, complied=False)),
        ("p_4_0", stored(1.0, 0, NO)),
        ("p_5_0", stored(1.0, 0, NO)),
    ]
    keys, fields = [k for k, _ in rows], [f for _, f in rows]
    obeying = shape_stored_groups(keys, fields, look_less())
    assert [u.score for u in obeying.updates][:2] == [1.0, 0.0]
    assert obeying.groups["p"].info.need is None and obeying.groups["p"].info.acc_tool is None
    assert obeying.groups["p"].info.has_probes is True  # present, but they define no need(x)
    metrics = step_metrics(list(obeying.groups.values()))
    assert (metrics["pixel/probe/present_rate"], metrics["pixel/probe/defined_rate"]) == (1.0, 0.0)
    every = shape_stored_groups(keys, fields, look_less(probe_accuracy="all"))
    assert [u.score for u in every.updates][:2] == [0.9, 0.1] and every.groups["p"].info.need is False
