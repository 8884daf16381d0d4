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
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from verl_pixel.eval.benchmarks import SPECS, Benchmark, Metric
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
        by_category: mean ``r_acc`` per category, sorted by category.
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

    def to_json(self) -> dict[str, Any]:
        """Plain JSON object (categories as a mapping)."""
        out = dataclasses.asdict(self)
        out["by_category"] = dict(self.by_category)
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


def summarize(run: str, benchmark: str, results: Sequence[SampleResult]) -> BenchmarkSummary:
    """Metrics of one run on one benchmark (definitions in the module docstring)."""
    scored = [result for result in results if result.ok]
    attempted = sum(result.record.ops_attempted for result in scored)
    failed = sum(result.record.ops_failed for result in scored)
    categories: dict[str, list[float]] = defaultdict(list)
    for result in scored:
        if result.category:
            categories[result.category].append(result.acc)
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
        by_category=tuple(sorted((name, sum(v) / len(v)) for name, v in categories.items())),
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


TABLE_HEADER = (
    "| run | n | {metric} (%) | TUR (%) | ops / response | failed ops (%) | visual tokens / query "
    "| tool visual tokens / query | response tokens | errors |"
)


def table_row(summary: BenchmarkSummary) -> str:
    """One Markdown table row of a summary."""
    cells = [
        summary.run,
        MISSING if summary.queries is None else str(summary.queries),
        _percent(summary.accuracy),
        _percent(summary.tur),
        _number(summary.ops_per_response, 2),
        _percent(summary.failed_op_rate),
        _number(summary.visual_tokens_per_query, 0),
        _number(summary.tool_visual_tokens_per_query, 0),
        _number(summary.response_tokens, 0),
        str(summary.errors),
    ]
    return "| " + " | ".join(cells) + " |"


def markdown_report(summaries: Sequence[BenchmarkSummary]) -> str:
    """One Markdown section per benchmark, one table row per run (runs in input order)."""
    by_benchmark: dict[str, list[BenchmarkSummary]] = defaultdict(list)
    for summary in summaries:
        by_benchmark[summary.benchmark].append(summary)
    sections = ["# Evaluation report"]
    for benchmark in benchmark_order(by_benchmark):
        metric = benchmark_metric(benchmark)
        header = TABLE_HEADER.format(metric="ANLS" if metric == Metric.ANLS.value else "accuracy")
        rule = "|" + "---|" * (header.count("|") - 1)
        lines = [f"## {benchmark_title(benchmark)} (`{benchmark}`)", "", header, rule]
        lines += [table_row(summary) for summary in by_benchmark[benchmark]]
        sections.append("\n".join(lines))
    return "\n\n".join(sections) + "\n"


def json_report(summaries: Sequence[BenchmarkSummary]) -> dict[str, Any]:
    """``{"runs": [...], "benchmarks": {name: [summary, ...]}}``."""
    runs: list[str] = []
    benchmarks: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for summary in summaries:
        if summary.run not in runs:
            runs.append(summary.run)
        benchmarks[summary.benchmark].append(summary.to_json())
    return {"runs": runs, "benchmarks": dict(benchmarks)}
