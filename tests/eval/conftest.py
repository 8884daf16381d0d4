"""Small benchmark files in each benchmark's published layout, written into tmp_path."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from PIL import Image, ImageDraw


def image_bytes(size: tuple[int, int] = (96, 64), color: tuple[int, int, int] = (200, 30, 30), fmt="PNG") -> bytes:
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).rectangle([10, 10, 30, 30], fill=color)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def write_json(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def make_vstar(root: Path) -> Path:
    for category, items in {
        "direct_attributes": [("sa_1", ["red", "blue", "green", "white"]), ("sa_2", ["cat", "dog", "cow", "owl"])],
        "relative_position": [("sa_3", ["left", "right"])],
    }.items():
        for stem, options in items:
            (root / category).mkdir(parents=True, exist_ok=True)
            (root / category / f"{stem}.jpg").write_bytes(image_bytes(fmt="JPEG"))
            write_json(
                root / category / f"{stem}.json",
                {"target_object": ["x"], "bbox": [[1, 2, 3, 4]], "question": f"Question {stem}?", "options": options},
            )
    (root / "test_questions.jsonl").write_text("")
    return root


def hrbench_rows(n: int = 3) -> list[dict]:
    encoded = base64.b64encode(image_bytes(fmt="JPEG")).decode()
    return [
        {
            "index": i,
            "question": f"What is shown in region {i}?",
            "answer": "ABCD"[i % 4],
            "category": "FSP" if i % 2 == 0 else "FCP",
            "A": "a cat",
            "B": "a dog",
            "C": "a car",
            "D": "a tree",
            "image": encoded,
            "cycle_category": "ABCD",
        }
        for i in range(n)
    ]


def make_hrbench(root: Path, name: str = "hr_bench_4k.parquet", rows: list[dict] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows if rows is not None else hrbench_rows())
    if name.endswith(".tsv"):
        frame.to_csv(root / name, sep="\t", index=False)
    else:
        frame.to_parquet(root / name)
    return root


def make_tallyqa(root: Path) -> Path:
    (root / "VG_100K").mkdir(parents=True, exist_ok=True)
    (root / "VG_100K" / "1.jpg").write_bytes(image_bytes(fmt="JPEG"))
    (root / "val2014").mkdir(parents=True, exist_ok=True)
    (root / "val2014" / "COCO_val2014_2.jpg").write_bytes(image_bytes(fmt="JPEG"))
    items = [
        {"image": "VG_100K/1.jpg", "answer": 2, "question": "How many red squares?", "question_id": 10,
         "image_id": 1, "data_source": "imported_genome", "issimple": False},
        {"image": "VG_100K/1.jpg", "answer": 1, "question": "How many squares?", "question_id": 11,
         "image_id": 1, "data_source": "imported_genome", "issimple": True},
        {"image": "val2014/COCO_val2014_2.jpg", "answer": 0, "question": "How many dogs are sitting?",
         "question_id": 12, "image_id": 2, "data_source": "amt", "issimple": False},
    ]  # fmt: skip
    write_json(root / "test.json", items)
    return root


def make_infovqa_rrc(root: Path) -> Path:
    images = root / "infographicsvqa_images"
    images.mkdir(parents=True, exist_ok=True)
    (images / "37313.jpeg").write_bytes(image_bytes(fmt="JPEG"))
    data = [
        {"questionId": 65718, "question": "What share uses phones?", "image_local_name": "37313.jpeg",
         "image_url": "https://example.invalid/37313.jpeg", "ocr_output_file": "37313.json",
         "answers": ["42%", "42 %"], "data_split": "val"},
        {"questionId": 65719, "question": "Which country?", "image_local_name": "37313.jpeg",
         "answers": ["France"], "data_split": "val"},
    ]  # fmt: skip
    write_json(root / "infographicsVQA_val_v1.0_withQT.json", {"dataset_split": "val", "data": data})
    return root


def make_mme_json(root: Path) -> Path:
    (root / "remote_sensing").mkdir(parents=True, exist_ok=True)
    (root / "remote_sensing" / "03553_Toronto.png").write_bytes(image_bytes())
    items = [
        {"Question_id": "perception/remote_sensing/color/0001", "Image": "remote_sensing/03553_Toronto.png",
         "Text": "What color is the roof?", "Question Type": "Multiple Choice",
         "Answer choices": ["(A) white", "(B) red", "(C) green", "(D) blue", "(E) The image does not show it."],
         "Ground truth": "B", "Task": "Perception", "Subtask": "Remote Sensing", "Category": "color"},
    ]  # fmt: skip
    write_json(root / "MME_RealWorld.json", items)
    return root


def write_video(path: Path, frames: int = 40, fps: int = 10, size: tuple[int, int] = (64, 48)) -> Path:
    """An MPEG-4 video whose frame i has grey level 6 * i (so decoded frames can be identified)."""
    from verl_pixel.testing.videos import write_grey_video

    return write_grey_video(path, frames, fps, size)


def make_mvbench(root: Path) -> Path:
    from verl_pixel.testing.videos import write_mvbench_sample

    return write_mvbench_sample(root)


@pytest.fixture
def bench() -> SimpleNamespace:
    """Builders of benchmark files (tests import nothing from conftest under --import-mode=importlib)."""
    return SimpleNamespace(
        image_bytes=image_bytes,
        write_json=write_json,
        vstar=make_vstar,
        hrbench_rows=hrbench_rows,
        hrbench=make_hrbench,
        tallyqa=make_tallyqa,
        infovqa_rrc=make_infovqa_rrc,
        mme_json=make_mme_json,
        write_video=write_video,
        mvbench=make_mvbench,
    )
