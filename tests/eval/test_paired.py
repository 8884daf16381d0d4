"""Paired metrics (tool gain / harm, Beacon's mode adaptiveness) and TUR by need label, on hand-made results."""

from __future__ import annotations

import json

import pytest

from verl_pixel.eval.paired import paired_summaries, question_key
from verl_pixel.eval.report import json_report, markdown_report, summarize_results
from verl_pixel.eval.results import SampleResult
from verl_pixel.record import RolloutMode, TrajectoryRecord


def answer(question: str, acc: float, tool: bool = False, run: str = "m", draw: int = 0, **more) -> SampleResult:
    mode = RolloutMode.NO_TOOL if run.endswith("/no_tool") else RolloutMode.ADAPTIVE
    record = TrajectoryRecord(mode=mode, ops_attempted=int(tool), ops_succeeded=int(tool))
    key = f"vstar/{question}" + (f"#{draw}" if draw else "")
    return SampleResult(
        key=key, benchmark="vstar", sample_id=question, run=run, ok=True, acc=acc, record=record, **more
    )


def pair(question: str, no_tool_acc: float, tool_acc: float, used: bool) -> list[SampleResult]:
    return [answer(question, no_tool_acc, run="m/no_tool"), answer(question, tool_acc, used)]


def test_gain_harm_and_adaptiveness_by_hand() -> None:
    results = [
        *pair("gain", 0.0, 1.0, used=True),  # text-hard, looked, right: gain; MA_tool counts 1
        *pair("harm", 1.0, 0.0, used=True),  # text-easy, looked, wrong: harm; MA_text counts 0
        *pair("easy", 1.0, 1.0, used=False),  # text-easy, did not look: MA_text counts 1
        *pair("hard", 0.0, 0.0, used=False),  # text-hard, did not look: MA_tool counts 0
        answer("lonely", 1.0, True),  # no no-tool answer: not paired
        answer("failed", 0.0, run="m/no_tool"),
        SampleResult(key="vstar/failed", benchmark="vstar", sample_id="failed", run="m", ok=False),
    ]
    (summary,) = paired_summaries(results)
    assert (summary.run, summary.benchmark, summary.questions) == ("m", "vstar", 4)
    assert (summary.tool_gain, summary.tool_harm, summary.gain_minus_harm) == (0.25, 0.25, 0.0)
    assert (summary.accuracy_tool, summary.accuracy_no_tool) == (0.5, 0.5)
    assert (summary.text_easy, summary.text_hard) == (2, 2)
    assert (summary.ma_tool, summary.ma_text, summary.ma_mean) == (0.5, 0.5, 0.5)


@pytest.mark.parametrize(("looks", "ma"), [("always", (1.0, 0.0, 0.5)), ("never", (0.0, 1.0, 0.5)),
                                            ("when hard", (1.0, 1.0, 1.0))])  # fmt: skip
def test_always_or_never_looking_scores_50(looks, ma) -> None:
    # Beacon §3.2: a model that always or never calls tools has MA_mean exactly 50
    results = []
    for question, right_without in (("e1", 1.0), ("e2", 1.0), ("h1", 0.0)):
        used = looks == "always" or (looks == "when hard" and right_without == 0.0)
        results += pair(question, right_without, 1.0, used)
    (summary,) = paired_summaries(results)
    assert (summary.ma_tool, summary.ma_text, summary.ma_mean) == ma


def test_draws_use_beacons_easy_and_hard_shares() -> None:
    # 5 no-tool draws per question (Avg@5 keys <key>#d): 4 of 5 right is text-easy, 1 of 5 text-hard, 2 of 5
    # ambiguous (left out of MA); gain per question = (1 - acc_N) * acc_T
    results = []
    for question, rights in (("easy", 4), ("hard", 1), ("middle", 2)):
        results += [answer(question, float(d < rights), run="m/no_tool", draw=d) for d in range(5)]
        results += [answer(question, 1.0, tool=True, draw=d) for d in range(2)]  # two tool-mode draws, both right
    (summary,) = paired_summaries(results)
    assert question_key(results[1]) == "vstar/easy"
    assert (summary.text_easy, summary.text_hard, summary.questions) == (1, 1, 3)
    assert summary.tool_gain == pytest.approx((0.2 + 0.8 + 0.6) / 3)
    assert summary.tool_harm == 0.0
    assert (summary.ma_tool, summary.ma_text) == (1.0, 0.0)


def test_tur_split_by_need_label_and_the_report() -> None:
    results = [
        answer("a", 1.0, True, need_label=True),
        answer("b", 1.0, False, need_label=True),
        answer("c", 0.0, True, need_label=False),
        answer("d", 1.0, False, need_label=False),
        answer("e", 1.0, False, need_label=False),
        answer("f", 1.0, True),  # no label: counts in TUR, not in the split
        *pair("a", 1.0, 1.0, used=True)[:1],
    ]
    summaries = [s for s in summarize_results(results) if s.run == "m"]
    assert (summaries[0].tur, summaries[0].tur_need, summaries[0].tur_no_need) == (0.5, 0.5, 1 / 3)
    paired = paired_summaries(results)
    markdown = markdown_report(summarize_results(results), paired)
    assert "- m: TUR where a closer look is needed 50.0 %, where it is not 33.3 %" in markdown
    # paired on question a only: right both ways, easy, looked: MA_text 0, no hard question
    assert "| m | 1 | 100.0 / 100.0 | 0.0 | 0.0 | 0.0 | 1 / 0 | – | 0.0 | – |" in markdown
    report = json.loads(json.dumps(json_report(summarize_results(results), paired)))
    assert report["paired"]["vstar"][0]["gain_minus_harm"] == 0.0
    assert report["benchmarks"]["vstar"][0]["tur_need"] in (0.5, None)
