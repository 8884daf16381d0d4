"""The OpenAI-compatible endpoint writer against a fake chat server on 127.0.0.1 (started by the test)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from verl_pixel.chat_endpoint import EndpointError
from verl_pixel.data.endpoint_writer import EndpointWriter, EndpointWriterConfig, writer_endpoint
from verl_pixel.data.synthesize import synthesize
from verl_pixel.data.writers import TextKind, TextRequest


class FakeChatServer:
    """Answers ``POST /v1/chat/completions``; the first ``fail_first`` requests get ``fail_status``."""

    def __init__(self, fail_first: int = 0, fail_status: int = 503, delay_s: float = 0.0) -> None:
        self.fail_first, self.fail_status, self.delay_s = fail_first, fail_status, delay_s
        self.bodies: list[dict] = []
        self.headers: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.bodies.append(body)
                    server.headers.append(dict(self.headers))
                    attempt = len(server.bodies)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                time.sleep(server.delay_s)
                with server.lock:
                    server.in_flight -= 1
                if self.path != "/v1/chat/completions" or attempt <= server.fail_first:
                    self.send_response(server.fail_status if self.path == "/v1/chat/completions" else 404)
                    self.end_headers()
                    return
                task = body["messages"][1]["content"][0]["text"].split("Task: ")[1]
                answer = {"choices": [{"message": {"content": f"<image>Written: {task[:40]} \\boxed{{9}}"}}]}
                payload = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeChatServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _writer(url: str, max_concurrency: int = 8, send_images: bool = False, **endpoint) -> EndpointWriter:
    config = writer_endpoint(url, "fake-vlm", backoff_s=0.01, **endpoint)
    return EndpointWriter(EndpointWriterConfig(config, max_concurrency, send_images=send_images, show_progress=False))


def _requests(n: int) -> list[TextRequest]:
    return [TextRequest(f"s{i}/answer", TextKind.CROP_ANSWER, f"Q{i}?", "7", "the tag") for i in range(n)]


def test_texts_come_back_in_order_sanitized_and_concurrently(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "secret-token")
    with FakeChatServer(delay_s=0.05) as server:
        texts = _writer(server.url, max_concurrency=4).write_many(_requests(8))
    assert len(texts) == 8 and all(t.startswith("Written: The last crop shows the tag") for t in texts)
    assert all("<image>" not in t and "\\boxed" not in t and t.endswith("9") for t in texts)
    assert server.max_in_flight > 1
    body = server.bodies[0]
    assert body["model"] == "fake-vlm" and body["seed"] == 0 and body["messages"][0]["role"] == "system"
    assert "'7'" in body["messages"][1]["content"][0]["text"]
    assert server.headers[0]["Authorization"] == "Bearer secret-token"


def test_retries_transient_failures():
    with FakeChatServer(fail_first=2) as server:
        texts = _writer(server.url, max_concurrency=1, max_retries=3).write_many(_requests(1))
    assert len(server.bodies) == 3 and texts[0].startswith("Written:")


def test_gives_up_after_retries_and_on_client_errors():
    with (
        FakeChatServer(fail_first=100) as server,
        pytest.raises(EndpointError, match="gave up after 3 tries; last: HTTP 503"),
    ):
        _writer(server.url, max_retries=2).write_many(_requests(1))
    with FakeChatServer(fail_first=100, fail_status=400) as server, pytest.raises(EndpointError, match="HTTP 400"):
        _writer(server.url, max_retries=5).write_many(_requests(1))
    assert len(server.bodies) == 1  # a client error is not retried


def test_synthesis_with_the_endpoint_writer(make_seeds, fast_synthesis_config):
    seeds = make_seeds(3, 1)
    with FakeChatServer() as server:
        result = synthesize(seeds, fast_synthesis_config(text_only=0.0), _writer(server.url, send_images=True))
    assert len(server.bodies) == sum(1 for row in result.rows for m in row["messages"] if m["role"] == "assistant")
    image_parts = [p for b in server.bodies for p in b["messages"][1]["content"] if p["type"] == "image_url"]
    assert image_parts and image_parts[0]["image_url"]["url"].startswith("data:image/png;base64,")
    for row, seed in zip(result.rows, seeds, strict=True):
        final = row["messages"][-1]["content"]
        assert final.startswith("Written:") and final.endswith(f"The answer is \\boxed{{{seed.answer}}}.")
        assert final.count("\\boxed") == 1
