"""``verl-pixel data check`` lists every bad row; ``prepare rl`` decodes every image; missing files are one line.

Run through :func:`verl_pixel.cli.main`, the installed ``verl-pixel`` entry point.
"""

from __future__ import annotations

import io

from PIL import Image

from verl_pixel.cli import main
from verl_pixel.data.parquet_io import write_rl_parquet, write_sft_parquet
from verl_pixel.data.seeds import SeedAnnotation, write_seeds


def _png(color: tuple[int, int, int] = (10, 200, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(buffer, format="PNG")
    return buffer.getvalue()


def _sft_row(content: str, image: bytes) -> dict:
    messages = [{"role": "user", "content": "<image>Q?"}, {"role": "assistant", "content": content}]
    return {"messages": messages, "images": [{"bytes": image}], "videos": []}


def _rl_row(image: dict, truth: str = '{"answer": "3", "answer_type": "number"}') -> dict:
    return {
        "data_source": "probe",
        "prompt": [{"role": "user", "content": "<image>How many?"}],
        "images": [image],
        "reward_model": {"style": "rule", "ground_truth": truth},
    }


def test_data_check_lists_every_bad_row_and_fails(tmp_path, capsys):
    sft = write_sft_parquet(
        [_sft_row("\\boxed{1}", _png()), _sft_row("", _png()), _sft_row("\\boxed{3}", b"junk")], tmp_path / "s.parquet"
    )
    rl = write_rl_parquet(
        [
            _rl_row({"bytes": _png(), "image": None}),
            _rl_row({"bytes": None, "image": "/nonexistent/x.png"}),
            _rl_row({"bytes": _png(), "image": None}, truth='{"answer": "3", "answer_type": "numbr"}'),
        ],
        tmp_path / "r.parquet",
    )
    good = write_sft_parquet([_sft_row("\\boxed{1}", _png())], tmp_path / "good.parquet")
    assert main(["data", "check", str(sft), str(rl), str(good)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{sft}: row 1: field 'messages[1].content': empty assistant message (nothing to train but the turn end)",
        f"{sft}: row 2: field 'images[0]': cannot decode image bytes: cannot identify image file "
        + lines[1].split("cannot identify image file ")[1],
        f"{sft}: sft rows: 3, bad: 2",
        f"{rl}: row 1: field 'images[0]': image file not found: /nonexistent/x.png",
        f"{rl}: row 2: field 'reward_model.ground_truth': ground truth field 'answer_type': 'numbr' is not one of "
        "multiple_choice, number, short_text, anls, math",
        f"{rl}: rl rows: 3, bad: 2",
        f"{good}: sft rows: 1, bad: 0",
    ]
    assert main(["data", "check", str(good)]) == 0


def test_missing_files_are_one_line_errors(tmp_path, capsys):
    missing = tmp_path / "missing.parquet"
    commands = [
        ["data", "check", str(missing)],
        ["view", str(missing), "--out", str(tmp_path / "view")],
        ["eval", "run", str(missing), "-o", str(tmp_path / "r.jsonl"), "--base-url", "http://127.0.0.1:9/v1",
         "--model", "m", "--no-progress"],
    ]  # fmt: skip
    for argv in commands:
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        assert captured.err == f"verl-pixel: error: no such parquet file: {missing}\n", argv


def _seeds(tmp_path) -> list[SeedAnnotation]:
    (tmp_path / "ok.png").write_bytes(_png())
    (tmp_path / "cut.png").write_bytes(_png()[:60])
    (tmp_path / "junk.png").write_bytes(b"not an image")
    images = {"a": "ok.png", "b": "missing.png", "c": "cut.png", "d": "junk.png", "e": "ok.png"}
    return [
        SeedAnnotation(seed_id=seed_id, question="How many?", answer="3", answer_type="number", image=str(tmp_path / n))
        for seed_id, n in images.items()
    ]


def test_prepare_rl_decodes_every_image_and_stops_or_skips(tmp_path, capsys):
    seeds = write_seeds(_seeds(tmp_path), tmp_path / "seeds.jsonl")
    out = tmp_path / "rl.parquet"
    for embed in ([], ["--no-embed-images"]):
        assert main(["prepare", "rl", "--seeds", str(seeds), "--out", str(out), *embed]) == 2
        error = capsys.readouterr().err
        assert not out.exists()
        assert error.startswith("verl-pixel: error: 3 of 5 seeds have unusable images (--skip-bad drops them):\n")
        assert f"  seed 'b': field 'image': image file not found: {tmp_path / 'missing.png'}\n" in error
        assert f"  seed 'c': field 'image': cannot decode {tmp_path / 'cut.png'}" in error
        assert f"  seed 'd': field 'image': cannot decode {tmp_path / 'junk.png'}: cannot identify image" in error
    assert main(["prepare", "rl", "--seeds", str(seeds), "--out", str(out), "--skip-bad"]) == 0
    assert capsys.readouterr().out == f"wrote {out} (2 rows)\n"
    assert main(["data", "check", str(out)]) == 0
