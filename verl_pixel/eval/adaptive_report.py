"""Accuracy and tool use split by need, per training step: read from verl's logs, tabled and plotted (pure).

verl's in-run validation (``trainer.test_freq``, ``val_before_train``) averages ``reward_extra_info`` per data
source. The look-or-not rows carry the data sources ``lookornot/need`` and ``lookornot/no_need``
(:mod:`verl_pixel.data.look_or_not`), so each validation step gives accuracy and TUR for each subset::

    val-core/lookornot/need/acc/mean@N           val-aux/lookornot/need/pixel/used_tool/mean@N
    val-core/lookornot/no_need/acc/mean@N        val-aux/lookornot/no_need/pixel/used_tool/mean@N

:func:`eval_points` reads them from verl's ``file`` logger (one JSON line per step), :func:`separation_step`
finds when a run's tool use became adaptive, :func:`format_table` and :func:`plot_curves` show runs side by side.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from verl_pixel.eval.verl_native import summaries_from_val_metrics

NEED, NO_NEED = "need", "no_need"


@dataclasses.dataclass(frozen=True)
class EvalPoint:
    """One validation pass of one run: per subset (``need`` / ``no_need``) accuracy, TUR, tool visual tokens."""

    step: int
    accuracy: Mapping[str, float]
    tur: Mapping[str, float]
    tool_tokens: Mapping[str, float]

    def visual_tokens(self, view_tokens: int) -> float:
        """Mean visual tokens per query over both subsets (equal sizes): the view plus what tools added."""
        return view_tokens + sum(self.tool_tokens.values()) / max(1, len(self.tool_tokens))


def eval_points(metrics_file: str | os.PathLike, prefix: str = "lookornot") -> list[EvalPoint]:
    """Every validation pass in a verl ``file``-logger JSONL, in step order (steps without validation skipped)."""
    points = []
    for line in Path(metrics_file).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        data = record.get("data") or {}
        by_source = {s.benchmark: s for s in summaries_from_val_metrics(data, run="")}
        subsets = {subset: by_source.get(f"{prefix}/{subset}") for subset in (NEED, NO_NEED)}
        if any(summary is None for summary in subsets.values()):
            continue
        points.append(
            EvalPoint(
                step=int(record["step"]),
                accuracy={k: _number(s.accuracy) for k, s in subsets.items()},
                tur={k: _number(s.tur) for k, s in subsets.items()},
                tool_tokens={k: _number(s.tool_visual_tokens_per_query) for k, s in subsets.items()},
            )
        )
    return sorted(points, key=lambda point: point.step)


def _number(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def separation_step(points: Sequence[EvalPoint], high: float = 0.9, low: float = 0.1) -> int | None:
    """First evaluated step from which on TUR(need) >= ``high`` and TUR(no-need) <= ``low`` at every later pass.

    ``None`` when the run never got there (or fell back later).
    """
    for index, point in enumerate(points):
        if all(p.tur[NEED] >= high and p.tur[NO_NEED] <= low for p in points[index:]):
            return point.step
    return None


def format_table(runs: Mapping[str, Sequence[EvalPoint]], view_tokens: int) -> str:
    """Method x {acc need, acc no-need, TUR need, TUR no-need, visual tokens / query} at the first and last pass."""
    header = (
        f"{'method':<10} {'when':<10} {'step':>4} {'acc need':>8} {'acc no-need':>11} {'TUR need':>8} "
        f"{'TUR no-need':>11} {'vis tok/q':>9}"
    )
    lines = [header, "-" * len(header)]
    for method, points in runs.items():
        if not points:
            lines.append(f"{method:<10} (no validation logged)")
            continue
        for when, point in (("start(SFT)", points[0]), ("end", points[-1])):
            acc, tur = point.accuracy, point.tur
            lines.append(
                f"{method:<10} {when:<10} {point.step:>4} {acc[NEED]:>8.1%} {acc[NO_NEED]:>11.1%} "
                f"{tur[NEED]:>8.1%} {tur[NO_NEED]:>11.1%} {point.visual_tokens(view_tokens):>9.1f}"
            )
    return "\n".join(lines)


PANELS = (("TUR, need", "tur", NEED), ("TUR, no need", "tur", NO_NEED),
          ("accuracy, need", "accuracy", NEED), ("accuracy, no need", "accuracy", NO_NEED))  # fmt: skip


def curves_figure(runs: Mapping[str, Sequence[EvalPoint]], title: str = "") -> Figure:
    """Four panels (:data:`PANELS`: TUR need / no need, accuracy need / no need) vs step, one line per run."""
    figure = Figure(figsize=(16, 3.8))
    axes = figure.subplots(1, len(PANELS), sharex=True)
    for axis, (label, field, subset) in zip(axes, PANELS, strict=True):
        for method, points in runs.items():
            values = [getattr(p, field)[subset] for p in points]
            axis.plot([p.step for p in points], values, marker="o", markersize=3, label=method)
        axis.set_title(label)
        axis.set_xlabel("GRPO step")
        axis.set_ylim(-0.03, 1.03)
        axis.grid(alpha=0.3)
    axes[0].legend(loc="best", fontsize=8)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def plot_curves(runs: Mapping[str, Sequence[EvalPoint]], path: str | os.PathLike, title: str = "") -> Path:
    """Save :func:`curves_figure` as a PNG (Agg canvas, no display)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure = curves_figure(runs, title)
    FigureCanvasAgg(figure)
    figure.savefig(out, dpi=110)
    return out


def finite(value: float) -> bool:
    """Whether a table cell holds a number (validation may lack a metric)."""
    return not math.isnan(value)
