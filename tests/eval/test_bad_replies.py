"""Evaluation against a misbehaving OpenAI-compatible server on 127.0.0.1: one bad reply costs one sample, named.

Each sample's question carries a tag (``[null]``) that picks how the server misbehaves for it. Before the client
checked replies, a 200 with ``choices[0].message: null``, ``tool_calls`` as plain strings or a list ``content``
raised ``AttributeError`` out of the runner: the run aborted, in-flight samples were lost and every resume crashed
on the same sample. And ``--timeout`` was per read: a reply trickled one byte at a time passed ``--timeout 3``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import re
import threading
import time
from pathlib import Path

import pytest
from aiohttp import web
from PIL import Image

from verl_pixel.chat_endpoint import ChatEndpoint, EndpointConfig, EndpointError
from verl_pixel.data.parquet_io import write_rl_parquet
from verl_pixel.eval.cli import add_parser
from verl_pixel.eval.episode import EpisodeConfig
from verl_pixel.eval.results import read_results
from verl_pixel.eval.runner import RunnerConfig, run_eval
from verl_pixel.eval.samples import EvalSample, ImageInput, eval_rows

TRICKLE_S = 6.0  # how long the trickling reply takes to arrive in full
MESSAGES = {
    "ok": {"role": "assistant", "content": "\\boxed{B}"},
    "null": None,
    "strings": {"role": "assistant", "content": "", "tool_calls": ["crop_image(bbox_2d=[0, 0, 1, 1])"]},
    "parts": {"role": "assistant", "content": [{"type": "text", "text": "\\boxed{B}"}]},
}


class MisbehavingEndpoint:
    """An aiohttp chat-completions server in a background thread; the question's ``[tag]`` picks the reply."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> MisbehavingEndpoint:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
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

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        tag = re.search(r"\[(\w+)\]", json.dumps(body["messages"])).group(1)
        self.requests.append(tag)
        if tag == "trickle":
            return await self._trickle(request)
        return web.json_response({"choices": [{"index": 0, "message": MESSAGES[tag], "finish_reason": "stop"}]})

    @staticmethod
    async def _trickle(request: web.Request) -> web.StreamResponse:
        """A valid reply sent one byte at a time: each read is quick, the whole reply takes ``TRICKLE_S``."""
        payload = json.dumps({"choices": [{"message": MESSAGES["ok"]}]}).encode()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(payload)
        await response.prepare(request)
        for index in range(len(payload)):
            await response.write(payload[index : index + 1])
            await asyncio.sleep(TRICKLE_S / len(payload))
        await response.write_eof()
        return response


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (56, 56), (250, 250, 250)).save(buffer, format="PNG")
    return buffer.getvalue()


def _parquet(path: Path, tags: list[str]) -> Path:
    image = (ImageInput(data=_png()),)
    samples = [
        EvalSample("vstar", tag, f"[{tag}] What color?", "multiple_choice", ("B",), ("red", "blue"), image)
        for tag in tags
    ]
    return write_rl_parquet(eval_rows(samples), path)


def _config(server: MisbehavingEndpoint, **overrides: float) -> EndpointConfig:
    return EndpointConfig(base_url=server.base_url, model="m", max_retries=0, backoff_s=0.01, **overrides)


def test_malformed_replies_are_recorded_failures_and_the_run_finishes(tmp_path):
    parquet = _parquet(tmp_path / "bench.parquet", ["ok", "null", "strings", "parts"])
    out = tmp_path / "run.jsonl"
    runner = RunnerConfig(run_name="bad", concurrency=4, progress=False)
    with MisbehavingEndpoint() as server:
        first = run_eval([parquet], out, _config(server), EpisodeConfig(), runner)
        second = run_eval([parquet], out, _config(server), EpisodeConfig(), runner)  # resume: retries the failed
    assert (first.total, first.finished, first.failed) == (4, 1, 3)
    assert (second.skipped, second.finished, second.failed) == (1, 0, 3)
    latest = {result.sample_id: result for result in read_results(out)}
    assert latest["ok"].ok and latest["ok"].acc == 1.0
    errors = {tag: latest[tag].error for tag in ("null", "strings", "parts")}
    assert not any(latest[tag].ok for tag in errors)
    assert "choices[0].message is null" in errors["null"]
    assert "tool_calls[0] is a str" in errors["strings"]
    assert "choices[0].message.content is a list" in errors["parts"]
    assert all(error.startswith("EndpointError: malformed chat-completions response") for error in errors.values())
    assert server.requests.count("null") == 2  # not retried within a run (one per run), retried on resume


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="verl-pixel")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_timeout_is_a_deadline_for_the_whole_reply(tmp_path, capsys):
    parquet = _parquet(tmp_path / "bench.parquet", ["trickle"])
    out = tmp_path / "run.jsonl"
    with MisbehavingEndpoint() as server:
        start = time.perf_counter()
        code = _cli(
            ["eval", "run", str(parquet), "-o", str(out), "--base-url", server.base_url, "--model", "m",
             "--timeout", "1", "--retries", "0", "--no-progress"]
        )  # fmt: skip
        elapsed = time.perf_counter() - start
    (result,) = read_results(out)
    assert code == 1 and not result.ok
    assert result.error == f"EndpointError: {server.base_url}/chat/completions: gave up after 1 tries; last: no " + (
        "complete reply within the 1 s deadline"
    )
    assert elapsed < TRICKLE_S - 1  # gave up at the deadline, not when the trickle ended
    assert "0 finished, 1 failed" in capsys.readouterr().out


def test_client_deadline_and_retry_with_a_trickling_server():
    async def go(server: MisbehavingEndpoint, timeout_s: float) -> str:
        async with ChatEndpoint(_config(server, timeout_s=timeout_s)) as endpoint:
            reply = await endpoint.complete([{"role": "user", "content": "[trickle]"}])
            return reply.content

    with MisbehavingEndpoint() as server:
        assert asyncio.run(go(server, TRICKLE_S * 3)) == "\\boxed{B}"  # a generous deadline lets it finish
        with pytest.raises(EndpointError, match=r"no complete reply within the 0\.5 s deadline"):
            asyncio.run(go(server, 0.5))
