"""Paired evaluation: each question without tools and with them; tool gain / harm and Beacon's mode adaptiveness.

``verl-pixel eval run --paired`` answers every question twice: in the run's tool mode (``--mode``, adaptive by
default, or force_tool) into ``-o OUT.jsonl`` (run name R), and in ``no_tool`` mode into ``OUT.no_tool.jsonl`` (run
name ``R/no_tool``). :func:`paired_summaries` pairs the two runs question by question (draws of Avg@k, keys
``<key>#<d>``, count as more answers to the same question). With ``acc_N(q)`` / ``acc_T(q)`` the share of correct
answers (``r_acc >= 0.5``) of question q without / with tools, over the n paired questions:

================  ===========================================================================================
metric            definition
================  ===========================================================================================
tool gain         mean of ``(1 - acc_N(q)) * acc_T(q)``: wrong without tools and right with them (one answer
                  each: the fraction of questions so); the issue's definition, after Beacon's Tool-Gain
tool harm         mean of ``acc_N(q) * (1 - acc_T(q))``: right without tools, wrong with them
gain - harm       their difference (with this definition it equals the accuracy difference, tool mode - none)
MA_tool           Beacon's Mode Adaptiveness on text-hard questions: the share of tool-mode answers that used a
                  tool (>= 1 successful operation)
MA_text           ... on text-easy questions: the share of tool-mode answers that did not
MA_mean           (MA_tool + MA_text) / 2: an always-tool or never-tool model scores exactly 50
================  ===========================================================================================

Beacon (arXiv 2607.28595, §3.1 and Table 3; code NOVAglow646/Beacon, not reachable here, definitions from a
source-checked digest of the paper): a question is *text-easy* when at least 4 of 5 tool-free answers are right,
*text-hard* when at most 1 is, *ambiguous* otherwise and left out of MA. Here the thresholds are the same shares,
``acc_N(q) >= 0.8`` and ``<= 0.2``, so one no-tool answer makes a right question easy and a wrong one hard; with
``--samples 5`` it is Beacon's rule. Beacon's own Tool-Gain / Tool-Harm (Table 3) count only answers that
called a tool, per easy / hard subset; the gain and harm above are the issue's simpler paired version, reported
as such.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

from verl_pixel.eval.results import SampleResult
from verl_pixel.record import RolloutMode

NO_TOOL_SUFFIX = "/" + RolloutMode.NO_TOOL.value  # run name of a paired run's no-tool pass
CORRECT = 0.5  # r_acc >= this is a right answer (pixel.reward.correct_threshold's default)
TEXT_EASY, TEXT_HARD = 0.8, 0.2  # Beacon: >= 4 of 5 / <= 1 of 5 tool-free answers right
DRAW_SUFFIX = re.compile(r"#\d+$")


@dataclasses.dataclass(frozen=True)
class PairedSummary:
    """One run's paired metrics on one benchmark (fractions in [0, 1]; None where undefined).

    Attributes:
        run: the tool-mode run's name (its pair is ``<run>/no_tool``).
        benchmark: benchmark name.
        questions: questions answered in both passes.
        accuracy_tool: mean ``r_acc`` with tools (tool mode).
        accuracy_no_tool: mean ``r_acc`` without.
        tool_gain: wrong without, right with.
        tool_harm: right without, wrong with.
        text_easy: text-easy questions.
        text_hard: text-hard questions.
        ma_tool: share of tool use on text-hard questions.
        ma_text: share without tool use on text-easy questions.
        ma_mean: their mean.
    """

    run: str
    benchmark: str
    questions: int
    accuracy_tool: float | None
    accuracy_no_tool: float | None
    tool_gain: float | None
    tool_harm: float | None
    text_easy: int
    text_hard: int
    ma_tool: float | None
    ma_text: float | None
    ma_mean: float | None

    @property
    def gain_minus_harm(self) -> float | None:
        """Tool gain - tool harm."""
        if self.tool_gain is None or self.tool_harm is None:
            return None
        return self.tool_gain - self.tool_harm

    def to_json(self) -> dict:
        """Plain JSON object (with ``gain_minus_harm``)."""
        return {**dataclasses.asdict(self), "gain_minus_harm": self.gain_minus_harm}


def question_key(result: SampleResult) -> str:
    """The question a result answers: its key without an Avg@k draw suffix ``#<d>``."""
    return DRAW_SUFFIX.sub("", result.key)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _by_question(results: Iterable[SampleResult]) -> dict[str, list[SampleResult]]:
    grouped: dict[str, list[SampleResult]] = defaultdict(list)
    for result in results:
        if result.ok:
            grouped[question_key(result)].append(result)
    return grouped


def pair_summary(run: str, benchmark: str, tool: Sequence[SampleResult], no_tool: Sequence[SampleResult]):
    """Paired metrics of one run on one benchmark (module docstring); questions missing a pass are left out."""
    with_tools, without = _by_question(tool), _by_question(no_tool)
    questions = sorted(with_tools.keys() & without.keys())
    acc_t = {q: _mean([float(r.acc >= CORRECT) for r in with_tools[q]]) or 0.0 for q in questions}
    acc_n = {q: _mean([float(r.acc >= CORRECT) for r in without[q]]) or 0.0 for q in questions}
    used = {q: _mean([float(r.record.used_tool) for r in with_tools[q]]) or 0.0 for q in questions}
    easy = [q for q in questions if acc_n[q] >= TEXT_EASY]
    hard = [q for q in questions if acc_n[q] <= TEXT_HARD]
    ma_tool = _mean([used[q] for q in hard])
    ma_text = _mean([1.0 - used[q] for q in easy])
    return PairedSummary(
        run=run,
        benchmark=benchmark,
        questions=len(questions),
        accuracy_tool=_mean([r.acc for q in questions for r in with_tools[q]]),
        accuracy_no_tool=_mean([r.acc for q in questions for r in without[q]]),
        tool_gain=_mean([(1.0 - acc_n[q]) * acc_t[q] for q in questions]),
        tool_harm=_mean([acc_n[q] * (1.0 - acc_t[q]) for q in questions]),
        text_easy=len(easy),
        text_hard=len(hard),
        ma_tool=ma_tool,
        ma_text=ma_text,
        ma_mean=None if ma_tool is None or ma_text is None else (ma_tool + ma_text) / 2,
    )


def paired_summaries(results: Iterable[SampleResult]) -> list[PairedSummary]:
    """Every (run, benchmark) whose run R has a ``R/no_tool`` companion among ``results``, paired."""
    groups: dict[tuple[str, str], list[SampleResult]] = defaultdict(list)
    for result in results:
        groups[(result.run, result.benchmark)].append(result)
    return [
        pair_summary(run, benchmark, found, groups[(run + NO_TOOL_SUFFIX, benchmark)])
        for (run, benchmark), found in sorted(groups.items())
        if not run.endswith(NO_TOOL_SUFFIX) and (run + NO_TOOL_SUFFIX, benchmark) in groups
    ]
