"""The endpoint runner end to end: a scripted OpenAI-compatible server on 127.0.0.1, real HTTP, real concurrency.

The scripted policy crops on some questions, answers directly on others, emits a malformed call, uses OpenAI
``tool_calls``, fails once (retried) and fails for a whole run (resumed later). The report's numbers are checked
against values computed by hand from the script.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from pathlib import Path

import pytest
from aiohttp import web
from PIL import Image

from verl_pixel.chat_endpoint import EndpointConfig
from verl_pixel.data.parquet_io import write_rl_parquet
from verl_pixel.eval.episode import EpisodeConfig
from verl_pixel.eval.report import markdown_report, summarize_results
from verl_pixel.eval.results import read_results
from verl_pixel.eval.runner import RunnerConfig, run_eval
from verl_pixel.eval.samples import EvalSample, ImageInput, eval_rows


def _crop(bbox=(0.1, 0.1, 0.5, 0.5), target=None) -> str:
    arguments = {"bbox_2d": list(bbox), **({"target_image": target} if target else {})}
    return (
        "Let me look closer.\n<tool_call>\n"
        + json.dumps({"name": "crop_image", "arguments": arguments})
        + "\n</tool_call>"
    )


STRUCTURED_CROP = {
    "content": "",
    "tool_calls": [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "crop_image", "arguments": json.dumps({"bbox_2d": [0.1, 0.1, 0.5, 0.5]})},
        }
    ],
}
# tag -> assistant reply per turn (a string, or an OpenAI message dict)
SCRIPT = {
    "v1": [_crop(), "It is blue. \\boxed{B}"],
    "v2": ["\\boxed{B}"],
    "v3": ['<tool_call>{"name": "crop_image", "arguments": {bbox_2d: [1, 2]}}</tool_call>', "\\boxed{A}"],
    "v4": [STRUCTURED_CROP, "The square is \\boxed{blue}"],
    "t1": [_crop(), _crop(target=2), "There are \\boxed{3} cars"],
    "t2": ["\\boxed{5}"],
    "t3": ['<tool_call>{"name": "select_frames", "arguments": {"target_frames": [1]}}</tool_call>', "\\boxed{3}"],
    "i1": ["\\boxed{France}"],
    "q1": [_crop((100, 100, 500, 500)), "It is blue. \\boxed{B}"],  # a Qwen3-VL model: relative1000 boxes
    "m1": [
        '<tool_call>{"name": "select_frames", "arguments": {"target_frames": [1, 2]}}</tool_call>',
        _crop(target=17),
        "\\boxed{A}",
    ],
}
COMPLETION_TOKENS = 10


class ScriptedEndpoint:
    """An aiohttp chat-completions server in a background thread, replaying :data:`SCRIPT` per question tag."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, int, dict]] = []
        self.fail_always: set[str] = set()
        self.fail_once: set[str] = set()
        self.in_flight = self.max_in_flight = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> ScriptedEndpoint:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

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

    @staticmethod
    def _tag(body: dict) -> str:
        user = next(m for m in body["messages"] if m["role"] == "user")
        text = "".join(part.get("text", "") for part in user["content"] if part["type"] == "text")
        return text[text.index("[") + 1 : text.index("]")]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        tag = self._tag(body)
        turn = sum(1 for message in body["messages"] if message["role"] == "assistant")
        self.requests.append((tag, turn, body))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.05)  # long enough for concurrent episodes to overlap
            if tag in self.fail_always:
                return web.json_response({"error": "overloaded"}, status=503)
            if tag in self.fail_once:
                self.fail_once.discard(tag)
                return web.json_response({"error": "try again"}, status=500)
            reply = SCRIPT[tag][turn]
            message = {"role": "assistant", "content": reply} if isinstance(reply, str) else dict(reply)
            finish = "tool_calls" if message.get("tool_calls") else "stop"
            usage = {"prompt_tokens": 100, "completion_tokens": COMPLETION_TOKENS, "total_tokens": 110}
            return web.json_response(
                {"choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage}
            )
        finally:
            self.in_flight -= 1


def _png(size=(560, 420)) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.new("RGB", size, (250, 250, 250)).save(buffer, format="PNG")
    return buffer.getvalue()


def _eval_parquet(path: Path) -> Path:
    image = (ImageInput(data=_png()),)
    mc = dict(answer_type="multiple_choice", answers=("B",), options=("red", "blue"), images=image)
    samples = [EvalSample("vstar", tag, f"[{tag}] What color is the square?", **mc) for tag in ("v1", "v2", "v3", "v4")]
    samples += [
        EvalSample("tallyqa", tag, f"[{tag}] How many cars?", "number", ("3",), images=image)
        for tag in ("t1", "t2", "t3")
    ]
    samples.append(EvalSample("infovqa", "i1", "[i1] Which country?", "anls", ("Frances",), images=image))
    return write_rl_parquet(eval_rows(samples), path)


@pytest.fixture
def parquet(tmp_path: Path) -> Path:
    return _eval_parquet(tmp_path / "bench.parquet")


def _endpoint(server: ScriptedEndpoint) -> EndpointConfig:
    return EndpointConfig(base_url=server.base_url, model="scripted", max_retries=2, backoff_s=0.01)


def test_runner_end_to_end_with_retry_and_resume(tmp_path, parquet):
    out = tmp_path / "runs" / "scripted.jsonl"
    runner = RunnerConfig(run_name="scripted", concurrency=4, progress=False)
    with ScriptedEndpoint() as server:
        server.fail_always, server.fail_once = {"t3"}, {"v4"}
        first = run_eval([parquet], out, _endpoint(server), EpisodeConfig(), runner)
        assert (first.total, first.skipped, first.finished, first.failed) == (8, 0, 7, 1)
        assert server.max_in_flight >= 2  # episodes really overlapped
        per_tag = Counter(tag for tag, _, _ in server.requests)
        assert per_tag["t3"] == 3  # first try + 2 retries, then given up
        assert per_tag["v4"] == 3  # 500 once (retried), then two turns
        first_requests = list(server.requests)

        server.fail_always = set()
        second = run_eval([parquet], out, _endpoint(server), EpisodeConfig(), runner)
        assert (second.total, second.skipped, second.finished, second.failed) == (8, 7, 1, 0)
        assert {tag for tag, _, _ in server.requests[len(first_requests) :]} == {"t3"}  # only the failed one reran
        third = run_eval([parquet], out, _endpoint(server), EpisodeConfig(), runner)
        assert (third.skipped, third.finished) == (8, 0)

    _check_requests(first_requests)
    results = {result.sample_id: result for result in read_results(out)}
    assert all(result.ok for result in results.values()) and len(results) == 8
    _check_records(results)
    _check_report(list(results.values()))


def _check_requests(requests) -> None:
    by_key = {(tag, turn): body for tag, turn, body in requests}
    first = by_key[("v1", 0)]
    assert first["model"] == "scripted" and first["temperature"] == 0.0 and "tools" not in first
    system = first["messages"][0]
    assert system["role"] == "system" and "# Tools" in system["content"] and '"name": "crop_image"' in system["content"]
    image = first["messages"][1]["content"][0]
    assert image["type"] == "image_url" and image["image_url"]["url"].startswith("data:image/png;base64,")
    follow = by_key[("v1", 1)]["messages"]
    assert follow[-2] == {"role": "assistant", "content": SCRIPT["v1"][0]}
    tool_turn = follow[-1]
    assert tool_turn["role"] == "user" and tool_turn["content"][0] == {"type": "text", "text": "<tool_response>\n"}
    assert tool_turn["content"][1]["type"] == "image_url"
    assert tool_turn["content"][2]["text"] == "Image 2: crop of image 1 (336x252).\n</tool_response>"
    malformed = by_key[("v3", 1)]["messages"][-1]["content"]
    assert malformed[0]["text"].startswith("<tool_response>\nError: tool call is not valid JSON")
    structured = by_key[("v4", 1)]["messages"]
    assert structured[-3]["tool_calls"][0]["id"] == "call_1"
    assert structured[-2] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "Image 2: crop of image 1 (336x252).",
    }
    assert structured[-1]["role"] == "user" and structured[-1]["content"][1]["type"] == "image_url"


def _check_records(results) -> None:
    v1, v3, t1, t3, i1 = (results[tag] for tag in ("v1", "v3", "t1", "t3", "i1"))
    assert (v1.acc, v1.answer, v1.record.ops_succeeded, v1.record.turns) == (1.0, "B", 1, 2)
    assert (v1.input_visual_tokens, v1.record.tool_visual_tokens, v1.response_tokens) == (300, 108, 20)
    assert (v3.acc, v3.record.ops_attempted, v3.record.ops_failed, v3.record.used_tool) == (0.0, 1, 1, False)
    assert results["v4"].acc == 1.0 and results["v4"].record.ops_succeeded == 1  # "blue" is option B's text
    assert (t1.record.ops_succeeded, t1.record.tool_visual_tokens, t1.record.images_added) == (2, 108 + 35, 2)
    assert (t3.acc, t3.record.ops_failed, t3.record.stop_reason.value) == (1.0, 1, "answered")
    assert i1.acc == 1 - 1 / 7 and i1.answer == "France"
    assert t1.transcript[-1] == "There are \\boxed{3} cars" and t1.run == "scripted" and t1.model == "scripted"


def _check_report(results) -> None:
    summaries = {s.benchmark: s for s in summarize_results(results)}
    vstar, tally, info = summaries["vstar"], summaries["tallyqa"], summaries["infovqa"]
    # vstar: right on v1, v2, v4; tools used by v1 and v4; 3 ops (v3's failed); 7 turns x 10 tokens
    assert (vstar.queries, vstar.accuracy, vstar.tur, vstar.ops_per_response) == (4, 0.75, 0.5, 0.75)
    assert (vstar.failed_op_rate, vstar.response_tokens) == (1 / 3, 17.5)
    assert (vstar.visual_tokens_per_query, vstar.tool_visual_tokens_per_query) == ((4 * 300 + 2 * 108) / 4, 54.0)
    # tallyqa: right on t1, t3; tools used by t1 (2 crops: 108 + 35 tokens); t3's select_frames failed
    assert (tally.queries, tally.accuracy, tally.tur, tally.ops_per_response) == (3, 2 / 3, 1 / 3, 1.0)
    assert (tally.failed_op_rate, tally.response_tokens) == (1 / 3, 20.0)
    assert tally.visual_tokens_per_query == (3 * 300 + 143) / 3
    # infovqa: ANLS("france", "frances") = 1 - 1/7
    assert (info.metric, info.accuracy, info.tur, info.failed_op_rate) == ("anls", 1 - 1 / 7, 0.0, None)
    markdown = markdown_report(list(summaries.values()))
    assert "| scripted | 4 | 75.0 | 50.0 | 0.75 | 33.3 | 354 | 54 | 18 | 0 |" in markdown
    assert "| scripted | 1 | 85.7 | 0.0 | 0.00 | – | 300 | 0 | 10 | 0 |" in markdown
    assert "## InfographicVQA val (`infovqa`)" in markdown and "| run | n | ANLS (%) |" in markdown


def test_tool_protocol_api_and_no_tool_mode(tmp_path, parquet):
    with ScriptedEndpoint() as server:
        episode = EpisodeConfig(tool_protocol="api", max_turns=2)
        run_eval([parquet], tmp_path / "api.jsonl", _endpoint(server), episode, RunnerConfig("api", progress=False))
        body = next(body for tag, turn, body in server.requests if (tag, turn) == ("v2", 0))
        assert [tool["function"]["name"] for tool in body["tools"]] == ["crop_image", "select_frames"]
        assert "# Tools" not in json.dumps(body["messages"])
        server.requests.clear()
        no_tool = EpisodeConfig(mode="no_tool")
        run_eval([parquet], tmp_path / "none.jsonl", _endpoint(server), no_tool, RunnerConfig("none", progress=False))
        body = next(body for tag, turn, body in server.requests if (tag, turn) == ("v1", 0))
        assert "tools" not in body and "# Tools" not in json.dumps(body["messages"])
        assert body["messages"][0]["content"].endswith("no visual operations are available.")
    api = {r.sample_id: r for r in read_results(tmp_path / "api.jsonl")}
    # t1 needs 3 turns: with max_turns=2 its second call is not run and the episode stops there
    assert (api["t1"].record.stop_reason.value, api["t1"].record.ops_attempted, api["t1"].acc) == ("max_turns", 1, 0.0)
    refused = {r.sample_id: r for r in read_results(tmp_path / "none.jsonl")}["v1"]
    assert (refused.record.mode.value, refused.record.complied, refused.record.ops_failed) == ("no_tool", False, 1)
    assert refused.record.ops_succeeded == 0 and refused.acc == 1.0


def _cli(argv: list[str]) -> int:
    import argparse

    from verl_pixel.eval.cli import add_parser

    parser = argparse.ArgumentParser(prog="verl-pixel")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_run_and_report(tmp_path, parquet, capsys):
    out = tmp_path / "cli.jsonl"
    with ScriptedEndpoint() as server:
        code = _cli(
            ["eval", "run", str(parquet), "-o", str(out), "--base-url", server.base_url, "--model", "scripted",
             "--run-name", "cli", "--concurrency", "8", "--no-progress", "--limit", "5", "--retries", "0"]
        )  # fmt: skip
    assert code == 0 and "cli: 5 rows, 0 already done, 5 finished, 0 failed" in capsys.readouterr().out
    report_dir = tmp_path / "report"
    assert _cli(["eval", "report", f"renamed={out}", "-o", str(report_dir)]) == 0
    printed = capsys.readouterr().out
    assert "| renamed | 4 | 75.0 | 50.0 |" in printed  # v1..v4 (the first 5 rows: 4 vstar, 1 tallyqa)
    report = json.loads((report_dir / "report.json").read_text())
    assert report["runs"] == ["renamed"] and set(report["benchmarks"]) == {"vstar", "tallyqa"}
    assert (report_dir / "report.md").read_text() in printed
    assert "<svg" in (report_dir / "accuracy_vs_tur.svg").read_text()
    assert (report_dir / "accuracy_vs_tur.png").read_bytes().startswith(b"\x89PNG")


def test_video_rows_offer_their_frames_to_select_frames(tmp_path):
    frames = tuple(ImageInput(data=_png((320, 240)), max_pixels=400 * 28 * 28) for _ in range(16))
    sample = EvalSample("mvbench", "m1", "[m1] What happens first?", "multiple_choice", ("A",), ("run", "jump"),
                        frames, num_video_frames=16)  # fmt: skip
    parquet = write_rl_parquet(eval_rows([sample]), tmp_path / "video.parquet")
    with ScriptedEndpoint() as server:
        run_eval([parquet], tmp_path / "v.jsonl", _endpoint(server), EpisodeConfig(), RunnerConfig("v", progress=False))
        first = next(body for tag, turn, body in server.requests if turn == 0)
        assert sum(part["type"] == "image_url" for part in first["messages"][-1]["content"]) == 16
    (result,) = read_results(tmp_path / "v.jsonl")
    # 16 frames of 320x240 at the frame budget -> 308x252 = 11 x 9 = 99 tokens each; frames 1 and 2 come back at the
    # same size; the crop of image 17 (frame 1): (32, 24, 160, 120) padded to (0, 0, 192, 144) -> 196x140 = 35
    # tokens. 16 + 3 images, past the default 16: the video's frames do not count against max_images (ops/budgets).
    assert (result.acc, result.record.ops_succeeded, result.record.images_added) == (1.0, 2, 3)
    assert result.input_visual_tokens == 16 * 99 and result.record.tool_visual_tokens == 99 + 99 + 35


def test_cli_run_with_the_qwen3_family(tmp_path, capsys):
    from verl_pixel.eval.chat_messages import hermes_system_prompt
    from verl_pixel.model_family import family_spec
    from verl_pixel.ops import tool_schemas

    mc = dict(answer_type="multiple_choice", answers=("B",), options=("red", "blue"), images=(ImageInput(_png()),))
    parquet = write_rl_parquet(eval_rows([EvalSample("vstar", "q1", "[q1] What color?", **mc)]), tmp_path / "q.parquet")
    out = tmp_path / "q3.jsonl"
    with ScriptedEndpoint() as server:
        code = _cli(["eval", "run", str(parquet), "-o", str(out), "--base-url", server.base_url, "--model", "scripted",
                     "--family", "qwen3_vl", "--no-progress", "--retries", "0"])  # fmt: skip
        first, follow = (body["messages"] for _, _, body in server.requests)
    assert code == 0 and "1 finished, 0 failed" in capsys.readouterr().out
    # The tool block opens the system message with no persona before it: what the Qwen3-VL template renders for
    # a prompt without a system message (tests/eval/test_chat_messages.py checks the rendering), relative1000 text.
    schemas = tool_schemas(family_spec("qwen3_vl").ops_config())
    assert first[0] == {"role": "system", "content": hermes_system_prompt(None, schemas)}
    assert "integers from 0 to 1000" in first[0]["content"]
    # 560x420 -> 576x416 (factor 32: 18 x 13 = 234 tokens). [100,100,500,500] of it, padded by 0.1 of the view,
    # is (0,0,336,252) of the original -> 320x256 (10 x 8 = 80 tokens).
    assert follow[-1]["content"][2]["text"] == "Image 2: crop of image 1 (320x256).\n</tool_response>"
    (result,) = read_results(out)
    assert (result.acc, result.record.ops_succeeded, result.input_visual_tokens) == (1.0, 1, 234)
    assert result.record.tool_visual_tokens == 80


def test_cli_paired_run_and_report(tmp_path, parquet, capsys):
    # --paired: the run (adaptive) and the same questions in no_tool mode, then tool gain / harm and MA by hand:
    # v1 crops then answers B (right); without tools its crop call is refused and it still answers B (right);
    # v2 answers B at once both ways (right); v3 sends a malformed call then A (wrong) both ways, no tool used.
    # Text-easy: v1, v2 (looked on v1 only: MA_text 1/2); text-hard: v3 (did not look: MA_tool 0).
    out = tmp_path / "paired.jsonl"
    with ScriptedEndpoint() as server:
        code = _cli(
            ["eval", "run", str(parquet), "-o", str(out), "--base-url", server.base_url, "--model", "scripted",
             "--run-name", "p", "--no-progress", "--limit", "3", "--retries", "0", "--paired"]
        )  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0 and "p/no_tool: 3 rows, 0 already done, 3 finished, 0 failed" in printed
    no_tool = read_results(tmp_path / "paired.no_tool.jsonl")
    assert {r.run for r in no_tool} == {"p/no_tool"} and {r.record.mode.value for r in no_tool} == {"no_tool"}
    report_dir = tmp_path / "report"
    assert _cli(["eval", "report", str(out), str(tmp_path / "paired.no_tool.jsonl"), "-o", str(report_dir)]) == 0
    markdown = (report_dir / "report.md").read_text()
    assert "| p | 3 | 66.7 / 66.7 | 0.0 | 0.0 | 0.0 | 2 / 1 | 0.0 | 50.0 | 25.0 |" in markdown
    code = _cli(["eval", "run", str(parquet), "-o", str(out), "--base-url", "u", "--model", "m", "--mode", "no_tool",
                 "--paired"])  # fmt: skip
    assert code == 2 and "--paired pairs a tool mode with no_tool" in capsys.readouterr().err
