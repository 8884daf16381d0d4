"""The necessity memory ([ours]): Beta estimates, plan tiers, decay, adaptive evidence, state, prompt keys.

Every expected number is worked by hand from the module docstring's formulas: accuracies are the observed means;
sd = sqrt(var_tool + var_no) with the variance a b / ((a + b)^2 (a + b + 1)) of Beta(prior + correct, prior + wrong).
"""

import math

import pytest

from verl_pixel.reward.probing_config import ProbingConfig
from verl_pixel.reward.shaping.necessity_memory import (
    GroupOutcomes,
    NecessityMemory,
    beta_mean_var,
    prompt_key,
)
from verl_pixel.rollout.probe_plan import ProbePlan

# No decay and no tolerance: the tiers follow z = |gap - margin| / sd alone.
TIERS = ProbingConfig(enable=True, decay=1.0, tolerance=0.0, settle_z=1.28, lean_z=0.5, reprobe_every=2)


def fresh(config: ProbingConfig = TIERS, margin: float = 0.0) -> NecessityMemory:
    return NecessityMemory(config, margin)


def test_beta_mean_var() -> None:
    # Beta(1 + 3, 1 + 1) = Beta(4, 2): mean 4/6, variance 4*2 / (6^2 * 7) = 8/252
    mean, var = beta_mean_var(3.0, 1.0, 1.0)
    assert mean == pytest.approx(4 / 6) and var == pytest.approx(8 / 252)


def test_first_visit_is_full_probes() -> None:
    memory = fresh()
    assert memory.plan("p", 8, 4, 4) == ProbePlan("p", 8, 4, 4, "new")
    assert memory.need("p") is None and memory.estimate("p") is None


@pytest.mark.parametrize(
    ("tool", "no", "expected"),
    [
        # 3/4 vs 1/4: gap 0.5; Beta(4,2) vs Beta(2,4): sd sqrt(2 * 8/252) = 0.25198, z = 1.984 >= 1.28: settled
        ([1, 1, 1, 0], [1, 0, 0, 0], (0, 0, "settled")),
        # 2/4 vs 1/4: gap 0.25; Beta(3,3) vs Beta(2,4): sd sqrt(9/252 + 8/252) = 0.25973, z = 0.9625: leaning
        ([1, 1, 0, 0], [1, 0, 0, 0], (1, 1, "leaning")),
        # 1/2 vs 1/2: gap 0, z = 0: uncertain, the layout's full probes again
        ([1, 0], [1, 0], (4, 4, "uncertain")),
    ],
)
def test_plan_tiers(tool, no, expected) -> None:
    memory = fresh()
    memory.plan("p", 8, 4, 4)
    memory.observe("p", tool, no)
    plan = memory.plan("p", 8, 4, 4)
    assert (plan.force_tool, plan.no_tool, plan.reason) == expected
    assert plan.adaptive == 8  # adaptive rollouts are never cut


def test_z_values_of_the_tiers() -> None:
    memory = fresh()
    memory.observe("settled", [1, 1, 1, 0], [1, 0, 0, 0])
    found = memory.estimate("settled")
    assert (found.acc_tool, found.acc_no) == (0.75, 0.25)  # observed means, not the posteriors' 4/6 and 2/6
    assert found.gap_sd == pytest.approx(math.sqrt(16 / 252))
    assert found.gap / found.gap_sd == pytest.approx(1.9843, abs=1e-4)
    assert (found.need, found.settled, found.leaning) == (True, True, True)


def test_unequal_evidence_does_not_favour_the_less_observed_mode() -> None:
    # 0 of 1 with a tool vs 0 of 3 without: a tie (no tool), though the posterior means are 1/3 vs 1/5
    memory = fresh()
    memory.observe("hard", [0.0], [0.0, 0.0, 0.0])
    found = memory.estimate("hard")
    assert (found.acc_tool, found.acc_no, found.need) == (0.0, 0.0, False)


def test_tolerance_settles_a_well_measured_tie() -> None:
    # 4/4 vs 4/4: Beta(5,1) each, var 5 / (36 * 7) = 0.019841, sd 0.19920; gap 0, so z = 0, but
    # settle_z * sd = 1.28 * 0.19920 = 0.25498 <= tolerance 0.3: the gap is known well enough; need = 0 (tie).
    config = ProbingConfig(enable=True, decay=1.0, tolerance=0.3)
    memory = fresh(config)
    memory.observe("p", [1, 1, 1, 1], [1, 1, 1, 1])
    found = memory.estimate("p")
    assert found.gap_sd == pytest.approx(math.sqrt(2 * 5 / 252))
    assert (found.need, found.settled) == (False, True)
    assert not fresh(ProbingConfig(enable=True, decay=1.0, tolerance=0.25)).estimate("p")  # unknown prompt: None
    tight = fresh(ProbingConfig(enable=True, decay=1.0, tolerance=0.25))
    tight.observe("p", [1, 1, 1, 1], [1, 1, 1, 1])
    assert tight.estimate("p").settled is False  # 0.25498 > 0.25


def test_reprobe_every_other_unprobed_visit() -> None:
    memory = fresh()  # reprobe_every = 2, no decay: the evidence stays settled
    memory.plan("p", 8, 4, 4)
    memory.observe("p", [1, 1, 1, 1], [0, 0, 0, 0])
    reasons = []
    for _ in range(6):
        plan = memory.plan("p", 8, 4, 4)
        reasons.append((plan.reason, plan.force_tool, plan.no_tool))
    assert reasons == [
        ("settled", 0, 0),
        ("settled", 0, 0),
        ("reprobe", 1, 1),  # two visits without probes
        ("settled", 0, 0),
        ("settled", 0, 0),
        ("reprobe", 1, 1),
    ]


def test_decay_per_visit() -> None:
    # decay 0.5: the second visit halves the first visit's evidence before it plans
    memory = fresh(ProbingConfig(enable=True, decay=0.5))
    memory.plan("p", 2, 1, 1)
    memory.observe("p", [1, 1], [0, 1])
    memory.plan("p", 2, 1, 1)
    # 1/1 vs 0.5/1: gap 0.5 >= 1.28 * sqrt(2/36 + 2.25/36) = 0.4398: settled, so a visit without probes
    assert memory.state_dict()["entries"]["p"] == [1.0, 0.0, 0.5, 0.5, 2, 1]


def test_adaptive_rollouts_count_their_weight() -> None:
    # probes weigh 1, adaptive rollouts adaptive_weight = 0.5, split by whether they used a tool
    memory = fresh(ProbingConfig(enable=True, adaptive_weight=0.5))
    outcomes = GroupOutcomes(force_tool=(1.0,), no_tool=(0.0,), adaptive_tool=(1.0, 0.0), adaptive_no_tool=(1.0,))
    memory.observe_group("p", outcomes)
    assert memory.state_dict()["entries"]["p"][:4] == [1.5, 0.5, 0.5, 1.0]
    probes_only = fresh(ProbingConfig(enable=True, adaptive_weight=0.0))
    probes_only.observe_group("p", outcomes)
    assert probes_only.state_dict()["entries"]["p"][:4] == [1.0, 0.0, 0.0, 1.0]


def test_partial_credit_counts_as_a_fraction() -> None:
    memory = fresh()
    memory.observe("p", [0.75], [0.25])
    assert memory.state_dict()["entries"]["p"][:4] == [0.75, 0.25, 0.25, 0.75]


def test_margin_moves_need() -> None:
    # gap 0.75 - 0.25 = 0.5: need with margin 0.25, not with margin 0.5 (a tie at the margin means no tool)
    for margin, need in ((0.25, True), (0.5, False)):
        memory = fresh(margin=margin)
        memory.observe("p", [1, 1, 1, 0], [1, 0, 0, 0])
        assert memory.need("p") is need


def test_state_round_trip_and_errors() -> None:
    memory = fresh()
    memory.plan("a", 8, 4, 4)
    memory.observe("a", [1, 0], [0, 0])
    memory.plan("a", 8, 4, 4)
    restored = fresh()
    restored.load_state_dict(memory.state_dict())
    assert restored.state_dict() == memory.state_dict()
    assert restored.plan("a", 8, 4, 4) == memory.plan("a", 8, 4, 4)
    with pytest.raises(ValueError, match="expected version 1"):
        restored.load_state_dict({"version": 99, "entries": {}})
    with pytest.raises(ValueError, match="prompt bad: counts must be finite and >= 0"):
        restored.load_state_dict({"version": 1, "entries": {"bad": [1.0, -1.0, 0.0, 0.0, 1, 0]}})
    with pytest.raises(ValueError, match="prompt short: expected 6 values"):
        restored.load_state_dict({"version": 1, "entries": {"short": [1.0]}})


def test_summary_counts() -> None:
    memory = fresh()
    memory.observe("need", [1, 1, 1, 0], [1, 0, 0, 0])  # settled, need
    memory.observe("tie", [1, 0], [1, 0])  # estimated, not settled, no need
    memory.plan("unseen", 8, 4, 4)
    assert memory.summary() == {"prompts": 3.0, "estimated": 2.0, "settled": 1.0, "need": 1.0}


def test_prompt_key_is_stable_and_distinguishes_rows() -> None:
    key = prompt_key("vstar", 7, ["What color?"], {"answer": "B"})
    source, index, digest = key.split("/")
    assert (source, index, len(digest)) == ("vstar", "7", 16)
    assert key == prompt_key("vstar", 7, ["What color?"], {"answer": "B"})
    assert key != prompt_key("vstar", 8, ["What color?"], {"answer": "B"})
    assert key != prompt_key("vstar", 7, ["What colour?"], {"answer": "B"})
    assert key != prompt_key("vstar", 7, ["What color?"], {"answer": "C"})
