"""Report math on hand-made results, the result store's resume rules, the Markdown / JSON / SVG outputs."""

from __future__ import annotations

import json

import pytest

from verl_pixel.eval.report import json_report, markdown_report, summarize_results
from verl_pixel.eval.results import ResultWriter, SampleResult, completed_keys, read_results
from verl_pixel.eval.tradeoff_plot import accuracy_range, accuracy_tur_figure, save_accuracy_tur_plot
from verl_pixel.record import StopReason, TrajectoryRecord


def _result(benchmark, sample, acc, ops=0, failed=0, run="a", tokens=None, category="", ok=True, tool_tokens=0):
    record = TrajectoryRecord(
        ops_attempted=ops + failed, ops_succeeded=ops, ops_failed=failed, tool_visual_tokens=tool_tokens
    )
    return SampleResult(
        key=f"{benchmark}/{sample}", benchmark=benchmark, sample_id=sample, run=run, ok=ok, acc=acc, record=record,
        response_tokens=tokens, input_visual_tokens=100, category=category,
    )  # fmt: skip


def test_summary_math_by_hand():
    results = [
        _result("hrbench4k", "0", 1.0, ops=1, tokens=30, category="FSP", tool_tokens=50),
        _result("hrbench4k", "1", 0.0, ops=2, failed=2, tokens=50, category="FCP", tool_tokens=20),
        _result("hrbench4k", "2", 1.0, tokens=None, category="FSP"),
        _result("hrbench4k", "3", 1.0, ok=False),
        _result("hrbench4k", "0", 0.0, run="b"),
    ]
    a, b = summarize_results(results)
    assert (a.run, a.queries, a.errors, a.accuracy, a.tur) == ("a", 3, 1, 2 / 3, 2 / 3)
    assert (a.ops_per_response, a.failed_op_rate, a.response_tokens) == (5 / 3, 2 / 5, 40.0)
    assert (a.visual_tokens_per_query, a.tool_visual_tokens_per_query) == (370 / 3, 70 / 3)
    assert a.by_category == (("cross (FCP)", 0.0), ("single (FSP)", 1.0))  # HR-Bench: the file's and paper's names
    assert (b.run, b.accuracy, b.tur, b.failed_op_rate, b.response_tokens) == ("b", 0.0, 0.0, None, None)
    renamed = summarize_results(results, run="merged")
    assert {s.run for s in renamed} == {"merged"} and renamed[0].queries == 4


def test_markdown_and_json():
    summaries = summarize_results(
        [_result("infovqa", "1", 0.5, run="rl"), _result("vstar", "1", 1.0, ops=1, run="rl"), _result("mine", "1", 1.0)]
    )
    markdown = markdown_report(summaries)
    sections = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert sections == ["## V* Bench (`vstar`)", "## InfographicVQA val (`infovqa`)", "## mine (`mine`)"]
    assert "| rl | 1 | 100.0 | 100.0 | 1.00 | 0.0 | 100 | 0 | – | 0 |" in markdown
    report = json_report(summaries)
    assert report["runs"] == ["a", "rl"] and report["benchmarks"]["infovqa"][0]["metric"] == "anls"
    assert json.loads(json.dumps(report))["benchmarks"]["vstar"][0]["tur"] == 1.0


def test_accuracy_tur_plot_places_each_run_by_benchmark(tmp_path):
    summaries = summarize_results(
        [
            _result("vstar", "1", 1.0, ops=1, run="rl"),
            _result("vstar", "2", 0.0, run="rl"),  # rl on vstar: acc 50 %, TUR 50 %
            _result("vstar", "1", 1.0, run="base"),  # base on vstar: acc 100 %, TUR 0 %
            _result("infovqa", "1", 0.6, ops=1, run="rl"),  # rl on infovqa: ANLS 60 %, TUR 100 %
            _result("infovqa", "2", 0.0, ok=False, run="rl"),  # failed: not scored, not plotted
        ]
    )
    figure = accuracy_tur_figure(summaries, title="A & B")
    (axes,) = figure.axes
    # One series per benchmark in the Benchmark order, named by its title; points at (TUR %, accuracy %).
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert legend == ["V* Bench", "InfographicVQA val"]
    offsets = [sorted(map(tuple, series.get_offsets().tolist())) for series in axes.collections]
    assert offsets == [[(0.0, 100.0), (50.0, 50.0)], [(100.0, 60.0)]]
    # Each point is labelled with its run, at the point.
    labels = sorted((text.get_text(), tuple(text.xy)) for text in axes.texts)
    assert labels == [("base", (0.0, 100.0)), ("rl", (50.0, 50.0)), ("rl", (100.0, 60.0))]
    # Axes: TUR over 0..100; accuracy 50..100 +- 5 points widened to tens: 40..100.
    assert axes.get_xlim() == (0.0, 100.0) and axes.get_ylim() == (40.0, 100.0)
    assert (axes.get_xlabel(), axes.get_ylabel(), axes.get_title()) == (
        "tool usage ratio, TUR (%)", "accuracy (%)", "A & B"
    )  # fmt: skip
    png, svg = save_accuracy_tur_plot(summaries, tmp_path)
    assert (png.name, svg.name) == ("accuracy_vs_tur.png", "accuracy_vs_tur.svg")
    assert png.read_bytes().startswith(b"\x89PNG") and "<svg" in svg.read_text()
    assert accuracy_range([50.0, 100.0]) == (40.0, 100.0) and accuracy_range([]) == (0.0, 100.0)
    assert len(accuracy_tur_figure([]).axes[0].collections) == 0  # nothing to plot: empty axes, no error


def test_results_store_resume_rules(tmp_path):
    path = tmp_path / "runs" / "r.jsonl"
    failed = _result("vstar", "1", 0.0, ok=False)
    done = _result("vstar", "1", 1.0, ops=1)
    with ResultWriter(path) as writer:
        writer.write(failed)
        writer.write(done)
        writer.write(_result("vstar", "2", 0.0, ok=False))
        writer.write(_result("vstar", "1", 0.0, ok=False))  # a later failure never hides a success
    results = {r.sample_id: r for r in read_results(path)}
    assert results["1"].ok and results["1"].record.ops_succeeded == 1 and not results["2"].ok
    assert completed_keys(results.values()) == {"vstar/1"}
    with path.open("a") as file:
        file.write('{"key": "vstar/3", "bench')  # an interrupted write
    assert len(read_results(path)) == 2
    with ResultWriter(path) as writer:  # the next run drops the partial line before appending
        writer.write(_result("vstar", "3", 1.0))
    assert completed_keys(read_results(path)) == {"vstar/1", "vstar/3"}
    path.write_text('not json\n{"key": "x"}\n')
    with pytest.raises(ValueError, match=r"r\.jsonl:1: not a result line"):
        read_results(path)
    assert read_results(tmp_path / "absent.jsonl") == []
    round_trip = SampleResult.from_json(json.loads(json.dumps(done.to_json())))
    assert round_trip == done and round_trip.record.stop_reason is StopReason.ANSWERED
