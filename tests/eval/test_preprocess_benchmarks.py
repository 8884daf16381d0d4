"""Each benchmark's loader on small files in its published layout, and its errors on anything else."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from PIL import Image

from verl_pixel.eval.benchmarks import LoadOptions, load_benchmark
from verl_pixel.eval.benchmarks.video_frames import segment_frame_indices
from verl_pixel.eval.benchmarks.vstar import shuffled_options
from verl_pixel.eval.samples import PreprocessError
from verl_pixel.reward.scoring.ground_truth import AnswerType, GroundTruth


def _truth(sample) -> GroundTruth:
    return GroundTruth.from_mapping(sample.ground_truth())


def test_vstar_moves_the_first_option_to_a_fixed_position(tmp_path, bench):
    samples = load_benchmark("vstar", bench.vstar(tmp_path / "vstar"))
    assert [s.sample_id for s in samples] == [
        "direct_attributes/sa_1",
        "direct_attributes/sa_2",
        "relative_position/sa_3",
    ]
    originals = [{"red", "blue", "green", "white"}, {"cat", "dog", "cow", "owl"}, {"left", "right"}]
    for sample, correct, options in zip(samples, ["red", "cat", "left"], originals, strict=True):
        truth = _truth(sample)
        assert truth.answer_type is AnswerType.MULTIPLE_CHOICE
        assert truth.options[truth.correct_option] == correct
        assert set(sample.options) == options and len(sample.images) == 1
        assert sample.images[0].path.endswith(".jpg") and sample.category == sample.sample_id.split("/")[0]
    # The position is CRC-32 of the sample id mod the option count, so the same files always give the same letters:
    # crc32("direct_attributes/sa_1") = 4265909719 -> 3 of 4 (D); crc32("direct_attributes/sa_2") = 1733151853 -> 1
    # (B). The other options keep their order.
    assert shuffled_options(["a", "b", "c", "d"], "direct_attributes/sa_1") == (("b", "c", "d", "a"), "D")
    assert shuffled_options(["a", "b", "c", "d"], "direct_attributes/sa_2") == (("b", "a", "c", "d"), "B")
    assert [s.options for s in samples[:2]] == [("blue", "green", "white", "red"), ("dog", "cat", "cow", "owl")]
    positions = {shuffled_options(["a", "b", "c", "d"], f"id{i}")[1] for i in range(40)}
    assert positions == {"A", "B", "C", "D"}  # the answer is not always (A)


def test_vstar_errors_name_the_file(tmp_path, bench):
    root = bench.vstar(tmp_path / "vstar")
    (root / "relative_position" / "sa_3.json").unlink()
    with pytest.raises(PreprocessError, match=r"sa_3\.jpg: missing annotation file sa_3\.json"):
        load_benchmark("vstar", root)
    bench.write_json(root / "relative_position" / "sa_3.json", {"question": "Where?", "options": ["left"]})
    with pytest.raises(PreprocessError, match=r"sa_3\.json: annotation: field 'options'"):
        load_benchmark("vstar", root)
    with pytest.raises(PreprocessError, match=r"missing folder .*direct_attributes; expected layout"):
        load_benchmark("vstar", tmp_path / "elsewhere")


@pytest.mark.parametrize("name", ["hr_bench_4k.parquet", "hr_bench_4k.tsv", "HRBench4K.tsv"])
def test_hrbench_parquet_and_tsv(tmp_path, bench, name):
    samples = load_benchmark("hrbench4k", bench.hrbench(tmp_path / "hr", name))
    assert [s.sample_id for s in samples] == ["0", "1", "2"]
    assert [s.answers for s in samples] == [("A",), ("B",), ("C",)]
    assert [s.category for s in samples] == ["FSP", "FCP", "FSP"]
    assert samples[0].options == ("a cat", "a dog", "a car", "a tree")
    assert Image.open(io.BytesIO(samples[0].images[0].data)).size == (96, 64)
    assert "(B) a dog" in samples[1].question_text()


def test_hrbench_8k_reads_its_own_file_and_errors(tmp_path, bench):
    root = bench.hrbench(tmp_path / "hr", "hr_bench_8k.parquet")
    assert len(load_benchmark("hrbench8k", root)) == 3
    with pytest.raises(PreprocessError, match=r"none of \['hr_bench_4k.parquet'"):
        load_benchmark("hrbench4k", root)
    rows = bench.hrbench_rows()
    rows[1]["answer"] = "E"
    with pytest.raises(
        PreprocessError, match=r"row 1 \(index 1\): field 'answer': bad answer letter 'E' \(options A-D\)"
    ):
        load_benchmark("hrbench4k", bench.hrbench(tmp_path / "bad", rows=rows))
    rows = [{k: v for k, v in row.items() if k != "question"} for row in bench.hrbench_rows()]
    with pytest.raises(PreprocessError, match=r"missing columns \['question'\]"):
        load_benchmark("hrbench4k", bench.hrbench(tmp_path / "nocol", rows=rows))
    rows = bench.hrbench_rows()
    rows[2]["image"] = "not base64 at all!"
    with pytest.raises(PreprocessError, match=r"row 2 \(index 2\): field 'image': not valid base64"):
        load_benchmark("hrbench4k", bench.hrbench(tmp_path / "badimg", rows=rows))


def test_vlmevalkit_image_references_resolve(tmp_path, bench):
    rows = bench.hrbench_rows()
    rows[1]["image"] = "0"  # VLMEvalKit writes the index of the row holding a repeated image
    samples = load_benchmark("hrbench4k", bench.hrbench(tmp_path / "hr", "hr_bench_4k.tsv", rows=rows))
    assert samples[1].images[0].data == samples[0].images[0].data


def test_tallyqa_complex_split(tmp_path, bench):
    root = bench.tallyqa(tmp_path / "tally")
    samples = load_benchmark("tallyqa", root)
    assert [(s.sample_id, s.answers, s.category) for s in samples] == [
        ("10", ("2",), "imported_genome"),
        ("12", ("0",), "amt"),
    ]
    assert _truth(samples[0]).answer_type is AnswerType.NUMBER
    assert len(load_benchmark("tallyqa", root, LoadOptions(tally_split="all"))) == 3
    items = json.loads((root / "test.json").read_text())
    items[2]["image"] = "val2014/missing.jpg"
    bench.write_json(root / "test.json", items)
    with pytest.raises(PreprocessError, match=r"item 2 \(question_id 12\): field 'image': image file not found"):
        load_benchmark("tallyqa", root)
    items[2] = {k: v for k, v in items[0].items() if k != "issimple"}
    bench.write_json(root / "test.json", items)
    with pytest.raises(PreprocessError, match="field 'issimple': expected true or false"):
        load_benchmark("tallyqa", root)


def test_infovqa_rrc_json_and_hf_parquet(tmp_path, bench):
    root = bench.infovqa_rrc(tmp_path / "info")
    samples = load_benchmark("infovqa", root)
    assert [(s.sample_id, s.answers) for s in samples] == [("65718", ("42%", "42 %")), ("65719", ("France",))]
    assert _truth(samples[0]).answer_type is AnswerType.ANLS
    parquet = tmp_path / "hf" / "InfographicVQA"
    parquet.mkdir(parents=True)
    pd.DataFrame(
        [
            {
                "questionId": "1",
                "question": "Q?",
                "answers": ["yes"],
                "image": {"bytes": bench.image_bytes(), "path": None},
            }
        ]
    ).to_parquet(parquet / "validation-00000-of-00001.parquet")
    (hf,) = load_benchmark("infovqa", tmp_path / "hf")
    assert (hf.sample_id, hf.answers, hf.images[0].data[:4]) == ("1", ("yes",), b"\x89PNG")
    bench.write_json(root / "infographicsVQA_val_v1.0_withQT.json", {"data": [{"questionId": 3, "question": "Q?"}]})
    with pytest.raises(PreprocessError, match=r"data\[0\] \(questionId 3\): field 'image_local_name'"):
        load_benchmark("infovqa", root)
    bench.write_json(root / "infographicsVQA_val_v1.0_withQT.json", {"questions": []})
    with pytest.raises(PreprocessError, match="missing top-level field 'data'"):
        load_benchmark("infovqa", root)


def test_mme_realworld_json_and_tsv(tmp_path, bench):
    (sample,) = load_benchmark("mmerealworld", bench.mme_json(tmp_path / "mme"))
    assert sample.sample_id == "perception/remote_sensing/color/0001" and sample.category == "Perception/Remote Sensing"
    assert sample.options == ("white", "red", "green", "blue", "The image does not show it.")
    assert (
        sample.answers == ("B",) and "(A) white" in sample.question_text() and "(A) (A)" not in sample.question_text()
    )
    rows = [{**row, "E": "none of these" if i else "", "answer": "E" if i else "A"} for i, row in
            enumerate(bench.hrbench_rows(2))]  # fmt: skip
    samples = load_benchmark("mmerealworld", bench.hrbench(tmp_path / "tsv", "MME-RealWorld-Lite.tsv", rows=rows))
    assert [len(s.options) for s in samples] == [4, 5] and samples[1].answers == ("E",)
    items = json.loads((tmp_path / "mme" / "MME_RealWorld.json").read_text())
    items[0]["Ground truth"] = "F"
    bench.write_json(tmp_path / "mme" / "MME_RealWorld.json", items)
    with pytest.raises(PreprocessError, match=r"item 0 .*field 'Ground truth': bad answer letter 'F' \(options A-E\)"):
        load_benchmark("mmerealworld", tmp_path / "mme")


# MVBench's published frame rule, worked by hand: ``get_index`` of the authors' evaluation (OpenGVLab/Ask-Anything
# video_chat2/mvbench.ipynb; the same code in OpenGVLab/InternVL internvl_chat/eval/mvbench/evaluate_mvbench.py):
#   start_idx = max(first_idx, round(start * fps)); end_idx = min(round(end * fps), max_frame)
#   seg_size = (end_idx - start_idx) / num_segments
#   index_k = int(start_idx + seg_size / 2 + np.round(seg_size * k))     (np.round: halves to even)
# No bound is (-100000 s, 100000 s); videos are 0-based with max_frame = len - 1, frame folders 1-based with
# max_frame = the file count.
# 40-frame 10 fps video, no bound: [0, 39], seg 2.4375, half 1.21875; np.round(2.4375 k) = 0 2 5 7 10 12 15 17
# 20 (19.5 -> 20) 22 24 27 29 32 34 37, plus 1.21875, truncated:
VIDEO_40_AT_10FPS = [1, 3, 6, 8, 11, 13, 16, 18, 21, 23, 25, 28, 30, 33, 35, 38]
# The same video, clip [1 s, 3 s]: [10, 30], seg 1.25, half 0.625; np.round(1.25 k) = 0 1 2 (2.5 -> 2) 4 5 6
# 8 (7.5 -> 8) 9 10 11 12 (12.5 -> 12) 14 15 16 18 (17.5 -> 18) 19:
VIDEO_40_AT_10FPS_1S_TO_3S = [10, 11, 12, 14, 15, 16, 18, 19, 20, 21, 22, 24, 25, 26, 28, 29]
# TVQA-style folder of 30 frames (00001.jpg ..), 3 fps, clip [2 s, 8 s]: [max(1, 6), min(24, 30)] = [6, 24],
# seg 1.125, half 0.5625; np.round(1.125 k) = 0 1 2 3 4 (4.5 -> 4) 6 7 8 9 10 11 12 14 (13.5 -> 14) 15 16 17:
FOLDER_30_AT_3FPS_2S_TO_8S = [6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18, 20, 21, 22, 23]


def test_segment_frame_indices_follow_mvbench_get_index():
    assert segment_frame_indices(16, 39, 10.0) == VIDEO_40_AT_10FPS
    assert segment_frame_indices(16, 39, 10.0, (1.0, 3.0)) == VIDEO_40_AT_10FPS_1S_TO_3S
    assert segment_frame_indices(16, 30, 3.0, (2.0, 8.0), first_index=1) == FOLDER_30_AT_3FPS_2S_TO_8S


def test_mvbench_video_file_and_frame_folder(tmp_path, bench):
    root = bench.mvbench(tmp_path / "mvbench")
    options = LoadOptions(mvbench_tasks=("object_existence", "episodic_reasoning"), workers=2)
    video, frames = load_benchmark("mvbench", root, options)
    assert (video.sample_id, video.answers, video.category) == ("object_existence/0", ("B",), "object_existence")
    assert video.num_video_frames == 16 and len(video.images) == 16 and video.images[0].max_pixels == 512 * 28 * 28
    # The decoded frames are MVBench's (frame i has grey level 6 i; neighbours differ by 6, JPEG error is < 4).
    grey = [Image.open(io.BytesIO(image.data)).convert("L").getpixel((32, 24)) for image in video.images]
    assert all(abs(level - 6 * index) <= 4 for level, index in zip(grey, VIDEO_40_AT_10FPS, strict=True)), grey
    # TVQA frame folder with its start/end bounds (file k has red level 8 k).
    assert frames.answers == ("B",) and frames.options == ("Sheldon", "Penny", "Leonard")
    reds = [Image.open(io.BytesIO(image.data)).getpixel((5, 5))[0] for image in frames.images]
    assert all(abs(red - 8 * index) <= 4 for red, index in zip(reds, FOLDER_30_AT_3FPS_2S_TO_8S, strict=True)), reds


def test_mvbench_errors(tmp_path, bench):
    root = bench.mvbench(tmp_path / "mvbench")
    with pytest.raises(PreprocessError, match=r"missing file .*action_sequence\.json"):
        load_benchmark("mvbench", root)  # all 20 tasks by default
    with pytest.raises(ValueError, match="unknown MVBench tasks"):
        load_benchmark("mvbench", root, LoadOptions(mvbench_tasks=("dancing",)))
    bench.write_json(
        root / "json" / "object_existence.json",
        [{"video": "video_1.mp4", "question": "Q?", "candidates": ["yes", "no"], "answer": "maybe"}],
    )
    with pytest.raises(PreprocessError, match=r"item 0 \(video 'video_1.mp4'\): field 'answer': 'maybe' matches 0"):
        load_benchmark("mvbench", root, LoadOptions(mvbench_tasks=("object_existence",)))
    (root / "video" / "clevrer" / "video_validation" / "video_1.mp4").write_bytes(b"not a video")
    bench.write_json(
        root / "json" / "object_existence.json",
        [{"video": "video_1.mp4", "question": "Q?", "candidates": ["yes", "no"], "answer": "no"}],
    )
    with pytest.raises(PreprocessError, match="cannot decode video"):
        load_benchmark("mvbench", root, LoadOptions(mvbench_tasks=("object_existence",)))


def test_unknown_benchmark():
    with pytest.raises(ValueError, match="unknown benchmark 'mmmu'; known: vstar, hrbench4k"):
        load_benchmark("mmmu", ".")
