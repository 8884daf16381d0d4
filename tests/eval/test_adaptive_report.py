"""Accuracy and TUR by need per step, read from verl's file logger; the separation step; table and plot."""

from __future__ import annotations

import json

import matplotlib.image
import pytest

from verl_pixel.eval.adaptive_report import (
    EvalPoint,
    curves_figure,
    eval_points,
    format_table,
    plot_curves,
    separation_step,
)


def _val(step: int, acc: tuple[float, float], tur: tuple[float, float], tokens: tuple[float, float]) -> str:
    data = {"actor/pg_loss": 0.1} if step else {}
    for subset, a, t, k in zip(("need", "no_need"), acc, tur, tokens, strict=True):
        data[f"val-core/lookornot/{subset}/acc/mean@2"] = a
        data[f"val-aux/lookornot/{subset}/acc/mean@1"] = 0.0  # smaller N: ignored when mean@2 exists
        data[f"val-aux/lookornot/{subset}/pixel/used_tool/mean@2"] = t
        data[f"val-aux/lookornot/{subset}/pixel/tool_visual_tokens/mean@2"] = k
    return json.dumps({"step": step, "data": data})


def _point(step: int, tur_need: float, tur_no: float) -> EvalPoint:
    return EvalPoint(
        step, {"need": 0.5, "no_need": 1.0}, {"need": tur_need, "no_need": tur_no}, {"need": 0, "no_need": 0}
    )


def test_eval_points_read_validation_steps_only_and_the_largest_n(tmp_path):
    log = tmp_path / "metrics.jsonl"
    lines = [
        _val(0, (0.6, 0.9), (0.8, 0.3), (104.0, 39.0)),
        json.dumps({"step": 1, "data": {"critic/score/mean": 1.0}}),  # a training step without validation
        _val(5, (0.8, 1.0), (0.95, 0.05), (123.5, 6.5)),
    ]
    log.write_text("\n".join(lines) + "\n")
    points = eval_points(log)
    assert [p.step for p in points] == [0, 5]
    assert points[1].accuracy == {"need": 0.8, "no_need": 1.0} and points[1].tur == {"need": 0.95, "no_need": 0.05}
    # 40 view tokens per query plus what tools added, averaged over the two equal subsets.
    assert points[0].visual_tokens(40) == 40 + (104.0 + 39.0) / 2


@pytest.mark.parametrize(
    ("turs", "expected"),
    [
        ([(0.8, 0.3), (0.92, 0.1), (0.95, 0.0)], 5),  # from the second pass on
        ([(0.8, 0.3), (0.95, 0.05), (0.85, 0.0)], None),  # fell back below 0.9 at the end
        ([(0.95, 0.05), (0.99, 0.0), (1.0, 0.02)], 0),  # separated from the start (the SFT prior)
        ([(1.0, 1.0), (1.0, 1.0), (1.0, 1.0)], None),  # always zooms: not adaptive
    ],
)
def test_separation_step_is_the_first_pass_from_which_use_stays_adaptive(turs, expected):
    points = [_point(5 * i, need, no) for i, (need, no) in enumerate(turs)]
    assert separation_step(points) == expected


def test_table_gives_start_and_end_per_method():
    runs = {"none": [_point(0, 0.8, 0.3), _point(30, 0.9, 0.25)], "look_less": [_point(0, 0.8, 0.3), _point(30, 1, 0)]}
    table = format_table(runs, view_tokens=40).splitlines()
    assert table[0].split() == ["method", "when", "step", "acc", "need", "acc", "no-need", "TUR", "need", "TUR",
                                "no-need", "vis", "tok/q"]  # fmt: skip
    assert table[2].split() == ["none", "start(SFT)", "0", "50.0%", "100.0%", "80.0%", "30.0%", "40.0"]
    assert table[5].split() == ["look_less", "end", "30", "50.0%", "100.0%", "100.0%", "0.0%", "40.0"]


def test_figure_has_four_panels_with_one_line_per_method(tmp_path):
    runs = {"none": [_point(0, 0.8, 0.3), _point(5, 0.9, 0.3)], "look_less": [_point(0, 0.8, 0.3), _point(5, 1, 0)]}
    figure = curves_figure(runs, title="t")
    titles = [axis.get_title() for axis in figure.axes]
    assert titles == ["TUR, need", "TUR, no need", "accuracy, need", "accuracy, no need"]
    tur_no_need = {line.get_label(): line.get_xydata().tolist() for line in figure.axes[1].get_lines()}
    assert tur_no_need == {"none": [[0, 0.3], [5, 0.3]], "look_less": [[0, 0.3], [5, 0.0]]}
    accuracy_need = [line.get_ydata().tolist() for line in figure.axes[2].get_lines()]
    assert accuracy_need == [[0.5, 0.5], [0.5, 0.5]]
    path = plot_curves(runs, tmp_path / "curves.png", title="t")
    assert matplotlib.image.imread(path).shape[:2] == (418, 1760)  # 16 x 3.8 in at 110 dpi
