"""The accuracy-versus-TUR picture of *Look Less, Reason More* (arXiv 2510.01681, Fig. 1) as a dependency-free SVG.

One point per (run, benchmark): x is the tool usage ratio, y the accuracy (ANLS for InfographicVQA), both in
percent; colour is the benchmark, the label the run. Up and to the left is better: as accurate, looking less.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

from verl_pixel.eval.report import BenchmarkSummary, benchmark_order, benchmark_title

WIDTH, HEIGHT = 720, 480
LEFT, RIGHT, TOP, BOTTOM = 64, 200, 40, 56  # margins: the right one holds the legend
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
TICK_STEP = 10.0


def _color(benchmark: str, order: Sequence[str]) -> str:
    return PALETTE[order.index(benchmark) % len(PALETTE)]


def accuracy_range(values: Sequence[float]) -> tuple[float, float]:
    """The y-axis range in percent: the data +-5 points, widened to multiples of 10 within [0, 100]."""
    if not values:
        return 0.0, 100.0
    low = max(0.0, math.floor((min(values) - 5) / TICK_STEP) * TICK_STEP)
    high = min(100.0, math.ceil((max(values) + 5) / TICK_STEP) * TICK_STEP)
    return (low, high) if high > low else (0.0, 100.0)


def _axes(y_low: float, y_high: float) -> list[str]:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>']
    for tick in range(0, 101, 20):
        x = LEFT + plot_w * tick / 100
        parts.append(f'<line x1="{x:.1f}" y1="{TOP + plot_h}" x2="{x:.1f}" y2="{TOP + plot_h + 5}" stroke="#333"/>')
        parts.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 20}" text-anchor="middle">{tick}</text>')
    steps = round((y_high - y_low) / TICK_STEP)
    for index in range(steps + 1):
        value = y_low + index * TICK_STEP
        y = TOP + plot_h * (1 - (value - y_low) / (y_high - y_low))
        parts.append(f'<line x1="{LEFT - 5}" y1="{y:.1f}" x2="{LEFT}" y2="{y:.1f}" stroke="#333"/>')
        parts.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{value:g}</text>')
    parts.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 16}" text-anchor="middle">tool usage ratio, TUR (%)</text>'
    )
    parts.append(
        f'<text x="18" y="{TOP + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 18 {TOP + plot_h / 2})">accuracy (%)</text>'
    )
    return parts


def accuracy_tur_svg(summaries: Sequence[BenchmarkSummary], title: str = "Accuracy vs tool usage") -> str:
    """The SVG document (summaries without accuracy or TUR are left out)."""
    points = [s for s in summaries if s.accuracy is not None and s.tur is not None]
    order = benchmark_order(s.benchmark for s in points)
    y_low, y_high = accuracy_range([100 * s.accuracy for s in points])  # type: ignore[operator]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT + plot_w / 2}" y="24" text-anchor="middle" font-size="15">{escape(title)}</text>',
        *_axes(y_low, y_high),
    ]
    for summary in points:
        x = LEFT + plot_w * summary.tur  # type: ignore[operator]
        y = TOP + plot_h * (1 - (100 * summary.accuracy - y_low) / (y_high - y_low))  # type: ignore[operator]
        color = _color(summary.benchmark, order)
        tooltip = f"{summary.run} / {summary.benchmark}: acc {100 * summary.accuracy:.1f}, TUR {100 * summary.tur:.1f}"  # type: ignore[operator]
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{color}"><title>{escape(tooltip)}</title></circle>'
        )
        parts.append(f'<text x="{x + 8:.1f}" y="{y + 4:.1f}" fill="{color}">{escape(summary.run)}</text>')
    for index, benchmark in enumerate(order):
        y = TOP + 10 + 20 * index
        x = WIDTH - RIGHT + 20
        parts.append(f'<circle cx="{x}" cy="{y}" r="5" fill="{_color(benchmark, order)}"/>')
        parts.append(f'<text x="{x + 12}" y="{y + 4}">{escape(benchmark_title(benchmark))}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
