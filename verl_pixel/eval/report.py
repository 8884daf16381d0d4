"""The evaluation report: per-benchmark metrics of each run, as Markdown tables and JSON (pure).

Definitions (METHOD.md §6), over the ``n`` scored queries of one run on one benchmark (one response per query):

====================================  ===========================================================================
column                                definition
====================================  ===========================================================================
accuracy (ANLS for InfographicVQA)    mean ``r_acc``: 0/1 per query, ANLS similarity for ``anls`` benchmarks
TUR                                   fraction of queries whose response made >= 1 *successful* visual operation
ops / response                        operations attempted (well-formed or not) per response
failed ops                            failed / attempted operations over all responses (undefined without any)
visual tokens / query                 input images + tool images, ``(h/28) * (w/28)`` each after ``smart_resize``
tool visual tokens / query            the tool images' share of that
response tokens                       mean completion tokens per query (all assistant turns; server ``usage`` or a
                                      tokenizer), over the queries where it is known
====================================  ===========================================================================

Failed samples (endpoint errors) are counted in ``errors`` and left out of every mean.

Beside those, per benchmark where it applies:

* **official score**: MVBench's headline is the mean of its per-task accuracies ("Avg"), given beside the
  per-question mean (they differ when tasks have different sizes);
* **categories** under their report names (HR-Bench: ``single (FSP)``, ``cross (FCP)``: the files' names and the
  paper's), and **groups**: categories written ``Group/Subgroup`` (MME-RealWorld's ``Task/Subtask``) are also
  averaged per group, so Perception and Reasoning are reported apart;
* **secondary scores**: InfographicVQA's ``exact_match`` (how Pixel Reasoner scores it) beside its ANLS;
* **Avg@k** (``eval run --samples k``): accuracy and TUR are means over all k draws, with their standard deviation
  over the draws (``ddof`` 0) in ``accuracy_std`` / ``tur_std``.

Where the rows carry a need label (``extra_info.needs_zoom``, e.g. the look-or-not task), TUR is also given split
by it (``tur_need`` / ``tur_no_need``: tool use where looking closer is needed / is not). A paired run
(``eval run --paired``) adds tool gain, tool harm and Beacon's mode adaptiveness (:mod:`verl_pixel.eval.paired`).
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from verl_pixel.eval.benchmarks import SPECS, Benchmark, BenchmarkSpec, Metric, OfficialScore
from verl_pixel.eval.paired import PairedSummary
from verl_pixel.eval.results import SampleResult

MISSING = "–"


@dataclasses.dataclass(frozen=True)
class BenchmarkSummary:
    """One run's metrics on one benchmark (fractions in [0, 1]; ``None`` where undefined or unknown).

    Attributes:
        run: run label.
        benchmark: benchmark name (the rows' ``data_source``).
        metric: ``accuracy`` or ``anls``.
        queries: scored queries (``None`` when read from verl's aggregated metrics).
        errors: queries that failed to run.
        accuracy: mean ``r_acc``.
        tur: tool usage ratio.
        ops_per_response: attempted operations per response.
        failed_op_rate: failed / attempted operations.
        visual_tokens_per_query: input and tool visual tokens per query.
        tool_visual_tokens_per_query: tool visual tokens per query.
        response_tokens: mean completion tokens per query.
        by_category: mean ``r_acc`` per category (report name), sorted by category.
        by_group: mean ``r_acc`` per group of ``Group/Subgroup`` categories, sorted.
        official: the benchmark's official score where it is not the per-question mean (MVBench: task mean).
        scores: mean of each secondary score (``exact_match``), sorted by name.
        draws: responses per question.
        accuracy_std: standard deviation of the per-draw accuracies (``None`` for one draw).
        tur_std: standard deviation of the per-draw TURs (``None`` for one draw).
        tur_need: TUR over the queries labelled ``needs_zoom: true`` (None without any).
        tur_no_need: TUR over the queries labelled ``needs_zoom: false``.
    """

    run: str
    benchmark: str
    metric: str
    queries: int | None
    errors: int = 0
    accuracy: float | None = None
    tur: float | None = None
    ops_per_response: float | None = None
    failed_op_rate: float | None = None
    visual_tokens_per_query: float | None = None
    tool_visual_tokens_per_query: float | None = None
    response_tokens: float | None = None
    by_category: tuple[tuple[str, float], ...] = ()
    by_group: tuple[tuple[str, float], ...] = ()
    official: float | None = None
    scores: tuple[tuple[str, float], ...] = ()
    draws: int = 1
    accuracy_std: float | None = None
    tur_std: float | None = None
    tur_need: float | None = None
    tur_no_need: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain JSON object (categories, groups and scores as mappings)."""
        out = dataclasses.asdict(self)
        for name in ("by_category", "by_group", "scores"):
            out[name] = dict(getattr(self, name))
        return out


def benchmark_metric(benchmark: str) -> str:
    """The headline metric of a benchmark name (``accuracy`` for names outside :class:`Benchmark`)."""
    try:
        return SPECS[Benchmark(benchmark)].metric.value
    except ValueError:
        return Metric.ACCURACY.value


def benchmark_title(benchmark: str) -> str:
    """Display title of a benchmark name (the name itself if unknown)."""
    try:
        return SPECS[Benchmark(benchmark)].title
    except ValueError:
        return benchmark


def benchmark_order(names: Iterable[str]) -> list[str]:
    """Distinct benchmark names in :class:`Benchmark` order, unknown names after them alphabetically."""
    known = [benchmark.value for benchmark in Benchmark]
    return sorted(set(names), key=lambda name: (known.index(name) if name in known else len(known), name))


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _std(values: Sequence[float]) -> float | None:
    """Population standard deviation (``ddof`` 0); ``None`` for fewer than two values."""
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    return math.sqrt(sum((value - mean) ** 2 for value in values) / len(values))


def _spec(benchmark: str) -> BenchmarkSpec | None:
    try:
        return SPECS[Benchmark(benchmark)]
    except ValueError:
        return None


def _grouped(results: Sequence[SampleResult], key: Any) -> tuple[tuple[str, float], ...]:
    """Mean ``r_acc`` per ``key(result)`` (results whose key is empty are left out), sorted by key."""
    groups: dict[str, list[float]] = defaultdict(list)
    for result in results:
        if name := key(result):
            groups[name].append(result.acc)
    return tuple(sorted((name, sum(values) / len(values)) for name, values in groups.items()))


def _draw_spread(scored: Sequence[SampleResult]) -> tuple[int, float | None, float | None]:
    """Draws, and the standard deviations of the per-draw accuracy and TUR."""
    draws: dict[int, list[SampleResult]] = defaultdict(list)
    for result in scored:
        draws[result.draw].append(result)
    accuracy = [sum(r.acc for r in group) / len(group) for group in draws.values()]
    tur = [sum(float(r.record.used_tool) for r in group) / len(group) for group in draws.values()]
    return max(len(draws), 1), _std(accuracy), _std(tur)


def summarize(run: str, benchmark: str, results: Sequence[SampleResult]) -> BenchmarkSummary:
    """Metrics of one run on one benchmark (definitions in the module docstring)."""
    scored = [result for result in results if result.ok]
    attempted = sum(result.record.ops_attempted for result in scored)
    failed = sum(result.record.ops_failed for result in scored)
    spec = _spec(benchmark)
    labels = spec.category_labels if spec is not None else {}
    by_category = _grouped(scored, lambda r: labels.get(r.category, r.category))
    by_group = _grouped(scored, lambda r: r.category.split("/")[0].title() if "/" in r.category else "")
    official = None
    if spec is not None and spec.official_score is OfficialScore.CATEGORY_MEAN and by_category:
        official = sum(value for _, value in by_category) / len(by_category)
    names = sorted({name for result in scored for name in result.scores})
    scores = tuple((name, _mean([r.scores[name] for r in scored if name in r.scores]) or 0.0) for name in names)
    draws, accuracy_std, tur_std = _draw_spread(scored)
    known_tokens = [float(result.response_tokens) for result in scored if result.response_tokens is not None]
    return BenchmarkSummary(
        run=run,
        benchmark=benchmark,
        metric=benchmark_metric(benchmark),
        queries=len(scored),
        errors=len(results) - len(scored),
        accuracy=_mean([result.acc for result in scored]),
        tur=_mean([float(result.record.used_tool) for result in scored]),
        ops_per_response=_mean([float(result.record.ops_attempted) for result in scored]),
        failed_op_rate=failed / attempted if attempted else None,
        visual_tokens_per_query=_mean([float(result.visual_tokens) for result in scored]),
        tool_visual_tokens_per_query=_mean([float(result.record.tool_visual_tokens) for result in scored]),
        response_tokens=_mean(known_tokens),
        by_category=by_category,
        by_group=by_group,
        official=official,
        scores=scores,
        draws=draws,
        accuracy_std=accuracy_std,
        tur_std=tur_std,
        tur_need=_mean([float(r.record.used_tool) for r in scored if r.need_label is True]),
        tur_no_need=_mean([float(r.record.used_tool) for r in scored if r.need_label is False]),
    )


def summarize_results(results: Iterable[SampleResult], run: str | None = None) -> list[BenchmarkSummary]:
    """Summaries per (run, benchmark); ``run`` overrides the runs recorded in the results."""
    groups: dict[tuple[str, str], list[SampleResult]] = defaultdict(list)
    for result in results:
        groups[(run or result.run, result.benchmark)].append(result)
    return [summarize(name, benchmark, group) for (name, benchmark), group in sorted(groups.items())]


def _percent(value: float | None) -> str:
    return MISSING if value is None else f"{100 * value:.1f}"


def _number(value: float | None, digits: int) -> str:
    return MISSING if value is None else f"{value:.{digits}f}"


def _with_std(value: float | None, std: float | None) -> str:
    """A percentage, with its standard deviation over draws when there is one (``71.3 ± 1.2``)."""
    return _percent(value) if std is None else f"{_percent(value)} ± {_percent(std)}"


SCORE_LABELS = {"exact_match": "exact match (Pixel Reasoner's scoring of this benchmark)"}


TABLE_HEADER = (
    "| run | n | {metric} (%) | TUR (%) | ops / response | failed ops (%) | visual tokens / query "
    "| tool visual tokens / query | response tokens | errors |"
)


def table_row(summary: BenchmarkSummary) -> str:
    """One Markdown table row of a summary."""
    cells = [
        summary.run,
        MISSING if summary.queries is None else str(summary.queries),
        _with_std(summary.accuracy, summary.accuracy_std),
        _with_std(summary.tur, summary.tur_std),
        _number(summary.ops_per_response, 2),
        _percent(summary.failed_op_rate),
        _number(summary.visual_tokens_per_query, 0),
        _number(summary.tool_visual_tokens_per_query, 0),
        _number(summary.response_tokens, 0),
        str(summary.errors),
    ]
    return "| " + " | ".join(cells) + " |"


def markdown_report(summaries: Sequence[BenchmarkSummary], paired: Sequence[PairedSummary] = ()) -> str:
    """One Markdown section per benchmark, one table row per run (runs in input order); paired metrics below."""
    by_benchmark: dict[str, list[BenchmarkSummary]] = defaultdict(list)
    for summary in summaries:
        by_benchmark[summary.benchmark].append(summary)
    paired_by: dict[str, list[PairedSummary]] = defaultdict(list)
    for pair in paired:
        paired_by[pair.benchmark].append(pair)
    sections = ["# Evaluation report"]
    for benchmark in benchmark_order([*by_benchmark, *paired_by]):
        metric = benchmark_metric(benchmark)
        header = TABLE_HEADER.format(metric="ANLS" if metric == Metric.ANLS.value else "accuracy")
        rule = "|" + "---|" * (header.count("|") - 1)
        lines = [f"## {benchmark_title(benchmark)} (`{benchmark}`)", "", header, rule]
        lines += [table_row(summary) for summary in by_benchmark[benchmark]]
        lines += _details(by_benchmark[benchmark])
        lines += _need_lines(by_benchmark[benchmark])
        lines += _paired_table(paired_by[benchmark])
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"


def _named(pairs: Sequence[tuple[str, float]]) -> str:
    return ", ".join(f"{name} {_percent(value)}" for name, value in pairs)


def _details(summaries: Sequence[BenchmarkSummary]) -> list[str]:
    """Lines under a benchmark's table: Avg@k, official score, secondary scores, groups and categories per run."""
    lines: list[str] = []
    for summary in summaries:
        found = []
        if summary.draws > 1:
            found.append(f"Avg@{summary.draws}: mean ± standard deviation over {summary.draws} draws per question")
        if summary.official is not None:
            found.append(f"official score (mean of per-task accuracies): {_percent(summary.official)}")
        found += [f"{SCORE_LABELS.get(name, name)}: {_percent(value)}" for name, value in summary.scores]
        if summary.by_group:
            found.append(f"by group: {_named(summary.by_group)}")
        if summary.by_category:
            found.append(f"by category: {_named(summary.by_category)}")
        lines += [f"- {summary.run}: {text}" for text in found]
    return ["", *lines] if lines else []


def _need_lines(summaries: Sequence[BenchmarkSummary]) -> list[str]:
    """``- run: TUR where a closer look is needed 80.0 %, where it is not 10.0 %`` for runs with labels."""
    lines = [
        f"- {s.run}: TUR where a closer look is needed {_percent(s.tur_need)} %, where it is not "
        f"{_percent(s.tur_no_need)} %"
        for s in summaries
        if s.tur_need is not None or s.tur_no_need is not None
    ]
    return ["", *lines] if lines else []


PAIRED_HEADER = (
    "| run (paired with run/no_tool) | n | accuracy with / without tools (%) | tool gain (%) | tool harm (%) "
    "| gain - harm | text-easy / hard | MA_tool (%) | MA_text (%) | MA_mean (%) |"
)


def _paired_table(pairs: Sequence[PairedSummary]) -> list[str]:
    if not pairs:
        return []
    rule = "|" + "---|" * (PAIRED_HEADER.count("|") - 1)
    rows = [
        "| "
        + " | ".join(
            [
                pair.run,
                str(pair.questions),
                f"{_percent(pair.accuracy_tool)} / {_percent(pair.accuracy_no_tool)}",
                _percent(pair.tool_gain),
                _percent(pair.tool_harm),
                _percent(pair.gain_minus_harm),
                f"{pair.text_easy} / {pair.text_hard}",
                _percent(pair.ma_tool),
                _percent(pair.ma_text),
                _percent(pair.ma_mean),
            ]
        )
        + " |"
        for pair in pairs
    ]
    return ["", PAIRED_HEADER, rule, *rows]


def json_report(summaries: Sequence[BenchmarkSummary], paired: Sequence[PairedSummary] = ()) -> dict[str, Any]:
    """``{"runs": [...], "benchmarks": {name: [summary, ...]}, "paired": {name: [paired summary, ...]}}``."""
    runs: list[str] = []
    benchmarks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for summary in summaries:
        if summary.run not in runs:
            runs.append(summary.run)
        benchmarks[summary.benchmark].append(summary.to_json())
    pairs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pair in paired:
        pairs[pair.benchmark].append(pair.to_json())
    return {"runs": runs, "benchmarks": dict(benchmarks), "paired": dict(pairs)}
