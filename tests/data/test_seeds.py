"""Seed annotations: JSON-lines round trip with relative paths, and errors naming the seed, line and field."""

from __future__ import annotations

import json

import pytest

from verl_pixel.data.seeds import SeedAnnotation, SeedError, read_seeds, write_seeds


def test_round_trip_keeps_fields_and_writes_relative_paths(make_seeds, media_dir):
    seeds = make_seeds(2, 1)
    path = write_seeds(seeds, media_dir / "seeds.jsonl")
    assert json.loads(path.read_text().splitlines()[0])["image"] == "img0.png"
    assert read_seeds(path) == seeds


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"answer_type": "essay"}, "field 'answer_type'"),
        ({"bbox": [10, 10, 5, 20]}, "field 'bbox'"),
        ({"question": ""}, "field 'question' is required"),
        ({"colour": "red"}, "unknown fields ['colour']"),
        ({"answer_type": "multiple_choice", "options": ["a", "b"], "answer": "C"}, "field 'answer'"),
        ({"options": ["a", "b"]}, "field 'options'"),
        ({"video": ["f1.png"]}, "fields 'image'/'video'"),
    ],
)
def test_malformed_seed_lines_name_line_and_field(change, fragment, tmp_path):
    good = {
        "id": "s1",
        "image": "a.png",
        "question": "Q?",
        "answer": "3",
        "answer_type": "number",
        "bbox": [1, 1, 5, 5],
    }
    path = tmp_path / "seeds.jsonl"
    path.write_text(json.dumps(good) + "\n\n" + json.dumps({**good, "id": "s2", **change}) + "\n")
    with pytest.raises(SeedError) as info:
        read_seeds(path)
    assert "seeds.jsonl:3: seed 's2'" in str(info.value) and fragment in str(info.value)


def test_video_window_must_lie_inside_the_frames():
    with pytest.raises(SeedError, match="field 'frames'"):
        SeedAnnotation("v", "Q?", "1", "number", video=("a.png", "b.png"), frames=(2, 3))
