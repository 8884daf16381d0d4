"""The accuracy-versus-TUR picture of *Look Less, Reason More* (arXiv 2510.01681, Fig. 1), drawn with matplotlib.

One point per (run, benchmark): x is the tool usage ratio, y the accuracy (ANLS for InfographicVQA), both in
percent; colour is the benchmark (one scatter series each, named in the legend), the label next to a point the run.
Up and to the left is better: as accurate, looking less. Rendering uses matplotlib's Agg canvas on a bare
``Figure`` (no pyplot state, no display needed); :func:`save_accuracy_tur_plot` writes PNG and SVG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from verl_pixel.eval.report import BenchmarkSummary, benchmark_order, benchmark_title

TICK_STEP = 10.0
FIGURE_SIZE = (7.2, 4.8)  # inches
DPI = 100
FORMATS = ("png", "svg")
PLOT_FILE_STEM = "accuracy_vs_tur"


def accuracy_range(values: Sequence[float]) -> tuple[float, float]:
    """The y-axis range in percent: the data +-5 points, widened to multiples of 10 within [0, 100]."""
    if not values:
        return 0.0, 100.0
    low = max(0.0, math.floor((min(values) - 5) / TICK_STEP) * TICK_STEP)
    high = min(100.0, math.ceil((max(values) + 5) / TICK_STEP) * TICK_STEP)
    return (low, high) if high > low else (0.0, 100.0)


def accuracy_tur_figure(summaries: Sequence[BenchmarkSummary], title: str = "Accuracy vs tool usage") -> Figure:
    """The figure (summaries without accuracy or TUR are left out).

    Its one axes holds a scatter series per benchmark (in :func:`benchmark_order`, labelled with the benchmark's
    title), one annotation per point naming the run, x in [0, 100] and y from :func:`accuracy_range`.
    """
    points = [s for s in summaries if s.accuracy is not None and s.tur is not None]
    figure = Figure(figsize=FIGURE_SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for index, benchmark in enumerate(benchmark_order(s.benchmark for s in points)):
        series = [s for s in points if s.benchmark == benchmark]
        xs = [100 * s.tur for s in series]  # type: ignore[operator]
        ys = [100 * s.accuracy for s in series]  # type: ignore[operator]
        colour = f"C{index % 10}"
        axes.scatter(xs, ys, s=36, color=colour, label=benchmark_title(benchmark), zorder=3)
        for summary, x, y in zip(series, xs, ys, strict=True):
            axes.annotate(summary.run, (x, y), xytext=(6, 3), textcoords="offset points", color=colour, fontsize=9)
    axes.set_xlim(0.0, 100.0)
    axes.set_ylim(*accuracy_range([100 * s.accuracy for s in points]))  # type: ignore[operator]
    axes.set_xlabel("tool usage ratio, TUR (%)")
    axes.set_ylabel("accuracy (%)")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    if points:
        axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return figure


def save_accuracy_tur_plot(
    summaries: Sequence[BenchmarkSummary],
    out_dir: str | Path,
    title: str = "Accuracy vs tool usage",
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Write ``out_dir/accuracy_vs_tur.<format>`` for each format; returns the paths."""
    figure = accuracy_tur_figure(summaries, title)
    paths = [Path(out_dir) / f"{PLOT_FILE_STEM}.{fmt}" for fmt in formats]
    for path in paths:
        figure.savefig(path, format=path.suffix[1:])
    return paths
