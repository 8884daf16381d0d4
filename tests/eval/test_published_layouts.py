"""Benchmark files as published, and the scores their authors and Pixel Reasoner report.

Layouts (research note benchmark_layouts.md, with the harnesses that read them):

* MVBench (OpenGVLab/MVBench, archives unzipped): some clevrer / star videos exist only under
  ``video/data0613/<prefix>/`` (lmms-eval ``mvbench/utils.py`` falls back there, VLMEvalKit's ``move_files`` moves
  them); ``video/nturgbd.zip`` was removed (commit f6b1a53); the official score is the mean of per-task accuracies.
* MME-RealWorld-Lite: ``mme_realworld_lite.tsv`` (yifanzhang114/MME-RealWorld-Base64) with a ``multi-choice options``
  column and no A-E columns (VLMEvalKit ``MMERealWorld``: ``eval(item["multi-choice options"])[i][4:]``); the
  lmms-eval copy ``data/train-*.parquet`` with the image base64 in ``bytes``; categories ``Task/Subtask``.
* HR-Bench: ``category`` is ``single`` / ``cross`` (lmms-eval ``hrbench4k.yaml``), the paper's FSP / FCP.
* InfographicVQA: ANLS, and Pixel Reasoner's exact match (``rule_reward``, ``experience_maker.py`` lines 908-970).
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import math
import threading

import pandas as pd
import pytest
from aiohttp import web
from PIL import Image

from verl_pixel.chat_endpoint import EndpointConfig
from verl_pixel.data.parquet_io import write_rl_parquet
from verl_pixel.eval.benchmarks import LoadOptions, load_benchmark
from verl_pixel.eval.benchmarks.mvbench import default_tasks
from verl_pixel.eval.episode import EpisodeConfig, EpisodeOutcome
from verl_pixel.eval.report import markdown_report, summarize_results
from verl_pixel.eval.results import SampleResult, read_results
from verl_pixel.eval.runner import ResponseTokenCounter, RunnerConfig, run_eval, scored_result
from verl_pixel.eval.sample_inputs import prepare_sample
from verl_pixel.eval.samples import EvalSample, ImageInput, eval_rows
from verl_pixel.ops import VisualOpsConfig
from verl_pixel.record import TrajectoryRecord
from verl_pixel.reward.scoring.exact_match import pixel_reasoner_exact_match

# ---- MVBench -----------------------------------------------------------------------------------------------------


def _frame_folder(folder, count):
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(1, count + 1):  # file k has red level 10 k
        Image.new("RGB", (32, 24), (10 * index, 0, 0)).save(folder / f"{index:05d}.jpg")


def test_mvbench_finds_data0613_videos_and_bounds_a_16_frame_folder(tmp_path, bench):
    root = tmp_path / "MVBench"
    # A clevrer video that only data0613.zip holds, unzipped where it unzips: video/data0613/<prefix>/.
    bench.write_video(root / "video" / "data0613" / "clevrer" / "video_validation" / "video_9.mp4")
    bench.write_json(
        root / "json" / "object_existence.json",
        [{"video": "video_9.mp4", "question": "Is there a cube?", "candidates": ["yes", "no"], "answer": "yes"}],
    )
    # A star clip given as a folder of exactly 16 frames, with a clip bound of [1 s, 3 s].
    _frame_folder(root / "video" / "data0613" / "star" / "Charades_v1_480" / "ZS9XR", 16)
    bench.write_json(
        root / "json" / "action_sequence.json",
        [{"video": "ZS9XR.mp4", "question": "What did the person do?", "candidates": ["sat", "ran"],
          "answer": "ran", "start": 1.0, "end": 3.0}],
    )  # fmt: skip
    video, clip = load_benchmark("mvbench", root, LoadOptions(mvbench_tasks=("object_existence", "action_sequence")))
    assert video.answers == ("A",) and len(video.images) == 16
    # MVBench's get_index on the 1-based folder at 3 fps: [max(1, 3), min(9, 16)] = [3, 9], seg 0.375, half
    # 0.1875; np.round(0.375 k) = 0 0 1 1 2 2 2 3 3 3 4 4 4 (4.5 -> 4) 5 5 6 -> frames below (not all 16 files).
    expected = [3, 3, 4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 9]
    reds = [Image.open(io.BytesIO(image.data)).getpixel((5, 5))[0] for image in clip.images]
    assert all(abs(red - 10 * k) <= 4 for red, k in zip(reds, expected, strict=True)), reds


def test_mvbench_fine_grained_pose_is_left_out_unless_its_clips_are_there(tmp_path, bench, caplog):
    root = tmp_path / "MVBench"
    with caplog.at_level(logging.WARNING):
        tasks = default_tasks(root)
    assert len(tasks) == 19 and "fine_grained_pose" not in tasks
    assert "leaving out fine_grained_pose" in caplog.text and "MVBench_videos_ntu.txt" in caplog.text
    bench.write_video(root / "video" / "nturgbd" / "S001C001P001R001A001_rgb.avi")
    assert len(default_tasks(root)) == 20
    bench.write_json(
        root / "json" / "fine_grained_pose.json",
        [{"video": "S001C001P001R001A001_rgb.avi", "question": "Which pose?", "candidates": ["sit", "stand"],
          "answer": "sit"}],
    )  # fmt: skip
    (sample,) = load_benchmark("mvbench", root, LoadOptions(mvbench_tasks=("fine_grained_pose",)))
    assert sample.category == "fine_grained_pose" and sample.answers == ("A",)


def _result(benchmark, sample, acc, category="", draw=0, ops=0, scores=None, run="r"):
    key = f"{benchmark}/{sample}" + (f"#{draw}" if draw else "")
    record = TrajectoryRecord(ops_attempted=ops, ops_succeeded=ops)
    return SampleResult(
        key=key, benchmark=benchmark, sample_id=sample, run=run, ok=True, acc=acc, category=category, draw=draw,
        record=record, scores=scores or {},
    )  # fmt: skip


def test_mvbench_official_score_is_the_task_mean():
    # task a: 2 of 2 right; task b: 1 of 4 -> per question 3/6 = 0.5, official (1.0 + 0.25) / 2 = 0.625.
    results = [_result("mvbench", f"a/{i}", 1.0, "a") for i in range(2)]
    results += [_result("mvbench", f"b/{i}", float(i == 0), "b") for i in range(4)]
    (summary,) = summarize_results(results)
    assert (summary.accuracy, summary.official) == (0.5, 0.625)
    assert "- r: official score (mean of per-task accuracies): 62.5" in markdown_report([summary])
    (vstar,) = summarize_results([_result("vstar", "1", 1.0, "direct_attributes")])
    assert vstar.official is None


# ---- MME-RealWorld -----------------------------------------------------------------------------------------------


def _b64(color) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), color).save(buffer, format="JPEG")
    return base64.b64encode(buffer.getvalue()).decode()


LITE_ROWS = [
    {"index": 0, "question": "What color is the car?", "answer": "B", "category": "Perception/Monitoring",
     "l2-category": "color/vehicle", "multi-choice options": ["(A) red", "(B) blue", "(C) green", "(D) white",
                                                              "(E) The image does not feature the color."]},
    {"index": 1, "question": "Is the road wet?", "answer": "A", "category": "Reasoning/Monitoring",
     "l2-category": "reasoning/state", "multi-choice options": ["(A) yes", "(B) no"]},
]  # fmt: skip


def test_mme_realworld_lite_tsv_as_published(tmp_path):
    rows = [{**row, "multi-choice options": str(row["multi-choice options"]), "image": _b64((9, 9, 200))}
            for row in LITE_ROWS]  # fmt: skip
    (tmp_path / "lite").mkdir()
    pd.DataFrame(rows).to_csv(tmp_path / "lite" / "mme_realworld_lite.tsv", sep="\t", index=False)
    car, road = load_benchmark("mmerealworld", tmp_path / "lite")
    assert car.options == ("red", "blue", "green", "white", "The image does not feature the color.")
    assert (car.answers, car.category, road.options, road.answers) == (("B",), "Perception/Monitoring", ("yes", "no"),
                                                                       ("A",))  # fmt: skip
    assert car.images[0].data == base64.b64decode(rows[0]["image"])


def test_mme_realworld_lite_lmms_eval_parquet(tmp_path):
    shard = tmp_path / "MME-RealWorld-lite-lmms-eval" / "data" / "train-00000-of-00001.parquet"
    shard.parent.mkdir(parents=True)
    pd.DataFrame([{**row, "bytes": _b64((200, 9, 9))} for row in LITE_ROWS]).to_parquet(shard)
    car, road = load_benchmark("mmerealworld", tmp_path / "MME-RealWorld-lite-lmms-eval")
    assert (car.options[1], road.options, road.answers) == ("blue", ("yes", "no"), ("A",))
    assert car.images[0].data[:2] == b"\xff\xd8"  # the JPEG decoded from the base64 `bytes` column


def test_mme_realworld_perception_and_reasoning_report_apart(tmp_path, bench):
    root = bench.mme_json(tmp_path / "mme")
    (perception,) = load_benchmark("mmerealworld", root)
    assert perception.category == "Perception/Remote Sensing"
    results = [
        _result("mmerealworld", "p1", 1.0, "Perception/Remote Sensing"),
        _result("mmerealworld", "p2", 0.0, "Perception/Monitoring"),
        _result("mmerealworld", "r1", 0.0, "Reasoning/Remote Sensing"),
    ]
    (summary,) = summarize_results(results)
    assert summary.by_group == (("Perception", 0.5), ("Reasoning", 0.0))
    assert "- r: by group: Perception 50.0, Reasoning 0.0" in markdown_report([summary])


# ---- HR-Bench, InfographicVQA ------------------------------------------------------------------------------------


def test_hrbench_reports_both_category_names(tmp_path, bench):
    rows = [{**row, "category": "single" if i % 2 == 0 else "cross"} for i, row in enumerate(bench.hrbench_rows(2))]
    samples = load_benchmark("hrbench4k", bench.hrbench(tmp_path / "hr", rows=rows))
    assert [s.category for s in samples] == ["single", "cross"]
    results = [_result("hrbench4k", s.sample_id, float(i == 0), s.category) for i, s in enumerate(samples)]
    (summary,) = summarize_results(results)
    assert summary.by_category == (("cross (FCP)", 0.0), ("single (FSP)", 1.0))


@pytest.mark.parametrize(
    ("answer", "answers", "score"),
    [
        ("France", ["France"], 1.0),
        ("42", ["42%", "42 %"], 1.0),  # the %-free copy of a percentage (rule_reward)
        ("frances", ["France"], 0.0),  # ANLS would give 1 - 1/7
        ("5 cm", ["5"], 1.0),  # normalize_answer drops "cm"
        # multi-span: spans of gt[7:-1] = "s, the siege of krishnapu" must all occur in the answer
        ("the siege of krishnapur and troubles", ["troubles, the siege of krishnapur"], 1.0),
        ("krishnapur", ["troubles, the siege of krishnapur"], 0.0),
        ("", ["France"], 0.0),
    ],
)
def test_pixel_reasoner_exact_match(answer, answers, score):
    assert pixel_reasoner_exact_match(answer, answers) == score


def test_infovqa_reports_anls_and_exact_match(tmp_path):
    png = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(png, format="PNG")
    sample = EvalSample(
        "infovqa", "1", "Which country?", "anls", ("Frances",), images=(ImageInput(data=png.getvalue()),)
    )
    prepared = prepare_sample(eval_rows([sample])[0], VisualOpsConfig())
    outcome = EpisodeOutcome(TrajectoryRecord(answer_text="\\boxed{France}"), (), None, None)
    result = scored_result(prepared, outcome, RunnerConfig("r"), "m", ResponseTokenCounter(None))
    assert result.acc == pytest.approx(1 - 1 / 7) and result.scores == {"exact_match": 0.0}
    second = _result("infovqa", "2", 1.0, scores={"exact_match": 1.0})
    (summary,) = summarize_results([result, second])
    assert summary.scores == (("exact_match", 0.5),) and summary.metric == "anls"
    markdown = markdown_report([summary])
    assert "| ANLS (%) |" in markdown
    assert "- r: exact match (Pixel Reasoner's scoring of this benchmark): 50.0" in markdown


# ---- Avg@k -------------------------------------------------------------------------------------------------------


def test_avg_at_k_mean_and_spread_by_hand():
    # q1 draws: 1 0 1; q2 draws: 1 1 0 (q1 draw 0 used a tool). Per draw: 1.0, 0.5, 0.5 -> mean 2/3,
    # std sqrt(((1 - 2/3)^2 + 2 (0.5 - 2/3)^2) / 3) = sqrt(1/18). TUR per draw: 0.5, 0, 0 -> std sqrt(1/18).
    results = [_result("vstar", "q1", acc, draw=d, ops=int(d == 0)) for d, acc in enumerate((1.0, 0.0, 1.0))]
    results += [_result("vstar", "q2", acc, draw=d) for d, acc in enumerate((1.0, 1.0, 0.0))]
    (summary,) = summarize_results(results)
    assert (summary.draws, summary.accuracy, summary.tur) == (3, 4 / 6, 1 / 6)
    assert summary.accuracy_std == pytest.approx(math.sqrt(1 / 18), rel=1e-12)
    assert summary.tur_std == pytest.approx(math.sqrt(1 / 18), rel=1e-12)
    markdown = markdown_report([summary])
    assert "| r | 6 | 66.7 ± 23.6 | 16.7 ± 23.6 |" in markdown and "Avg@3" in markdown


class _ChatServer:
    """A chat endpoint on 127.0.0.1 replying ``reply(call number, request body)``; it keeps every request body."""

    def __init__(self, reply) -> None:
        self.reply = reply
        self.calls = 0
        self.bodies: list[dict] = []
        self.temperatures: list[float] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_post("/v1/chat/completions", self._handle)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = self._runner.addresses[0][1]
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.bodies.append(body)
        self.temperatures.append(body["temperature"])
        message = {"role": "assistant", "content": self.reply(self.calls, body)}
        self.calls += 1
        return web.json_response({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})


def test_run_samples_k_draws_per_question_and_resumes(tmp_path):
    png = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(png, format="PNG")
    sample = EvalSample("vstar", "q", "Which?", "multiple_choice", ("B",), ("red", "blue"),
                        images=(ImageInput(data=png.getvalue()),))  # fmt: skip
    parquet = write_rl_parquet(eval_rows([sample]), tmp_path / "v.parquet")
    out = tmp_path / "k.jsonl"
    runner = RunnerConfig(run_name="k", concurrency=1, progress=False, samples=3)
    # The server answers one question right, wrong, right, ... in the order it is asked.
    with _ChatServer(lambda call, body: "\\boxed{B}" if call % 2 == 0 else "\\boxed{A}") as server:
        endpoint = EndpointConfig(base_url=f"http://127.0.0.1:{server.port}/v1", model="m", temperature=1.0)
        first = run_eval([parquet], out, endpoint, EpisodeConfig(), runner)
        again = run_eval([parquet], out, endpoint, EpisodeConfig(), runner)
        greedy = EndpointConfig(base_url=endpoint.base_url, model="m", temperature=0.0)
        with pytest.raises(ValueError, match="draws need a sampling temperature above 0"):
            run_eval([parquet], out, greedy, EpisodeConfig(), runner)
    assert (first.total, first.finished, again.skipped, again.finished) == (3, 3, 3, 0)
    assert server.calls == 3 and server.temperatures == [1.0, 1.0, 1.0]
    results = sorted(read_results(out), key=lambda r: r.draw)
    assert [(r.key, r.draw) for r in results] == [("vstar/q", 0), ("vstar/q#1", 1), ("vstar/q#2", 2)]
    assert sorted(r.acc for r in results) == [0.0, 1.0, 1.0]  # the server alternates; draws run in any order
    (summary,) = summarize_results(results)
    assert (summary.draws, summary.accuracy) == (3, 2 / 3)
    assert summary.accuracy_std == pytest.approx(math.sqrt(2 / 9), rel=1e-12)


# ---- presets in the endpoint runner ------------------------------------------------------------------------------


def _png_image() -> tuple:
    png = io.BytesIO()
    Image.new("RGB", (320, 240), "white").save(png, format="PNG")
    return (ImageInput(data=png.getvalue()),)


def test_eval_run_with_the_pixel_reasoner_preset(tmp_path):
    from verl_pixel.cli import main
    from verl_pixel.presets import pixel_reasoner_tool_block

    sample = EvalSample("vstar", "q", "Which?", "multiple_choice", ("B",), ("red", "blue"), images=_png_image())
    parquet = write_rl_parquet(eval_rows([sample]), tmp_path / "v.parquet")
    call = '<tool_call>\n{"name": "crop_image_normalized", "arguments": {"bbox_2d": [0.1, 0.1, 0.5, 0.5], ' \
        '"target_image": 1}}\n</tool_call>'  # fmt: skip
    with _ChatServer(lambda n, body: call if n == 0 else "\\boxed{B}") as server:
        args = ["eval", "run", str(parquet), "-o", str(tmp_path / "pr.jsonl"), "--no-progress", "--preset",
                "pixel_reasoner", "--base-url", f"http://127.0.0.1:{server.port}/v1", "--model", "m"]  # fmt: skip
        assert main(args) == 0
        assert main([*args[:-4], "--tool-protocol", "api", *args[-4:]]) == 2  # its tools are prompt text
    first, second = server.bodies
    # The system prompt the released checkpoints saw (experience_maker.py 1248, 1449-1455), tools byte for byte.
    assert first["messages"][0] == {
        "role": "system",
        "content": "You are a helpful assistant.\n\n" + pixel_reasoner_tool_block(),
    }
    assert '"name": "crop_image_normalized"' in first["messages"][0]["content"] and "tools" not in first
    # Its tool output: a user turn "\nHere is the cropped image (Image Size: WxH):" then the crop; cut from the
    # model's view (crop_source model_view): [0, 0, 0.6, 0.6] of 308x252 -> 185x152 -> 196x140.
    tool_turn = second["messages"][-1]
    assert tool_turn["role"] == "user" and tool_turn["content"][0] == {
        "type": "text",
        "text": "\nHere is the cropped image (Image Size: 196x140):",
    }
    assert tool_turn["content"][1]["type"] == "image_url"
    (result,) = read_results(tmp_path / "pr.jsonl")
    assert (result.acc, result.record.ops_succeeded) == (1.0, 1)


def test_eval_run_with_the_deepeyes_preset_uses_its_prompt(tmp_path):
    from verl_pixel.cli import main
    from verl_pixel.presets import DEEPEYES_USER_PROMPT, deepeyes_tool_block

    sample = EvalSample("vstar", "q", "Which?", "multiple_choice", ("B",), ("red", "blue"), images=_png_image())
    parquet = write_rl_parquet(eval_rows([sample]), tmp_path / "v.parquet")
    with _ChatServer(lambda n, body: "<answer>B</answer>") as server:
        args = ["eval", "run", str(parquet), "-o", str(tmp_path / "de.jsonl"), "--no-progress", "--preset",
                "deepeyes", "--base-url", f"http://127.0.0.1:{server.port}/v1", "--model", "m"]  # fmt: skip
        assert main(args) == 0
    (body,) = server.bodies
    assert body["messages"][0]["content"] == "You are a helpful assistant.\n\n" + deepeyes_tool_block()
    text = body["messages"][1]["content"][-1]["text"]
    assert text.endswith("(A) red\n(B) blue" + DEEPEYES_USER_PROMPT) and "Guidelines:" not in text
