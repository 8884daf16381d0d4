"""A real headless Chromium for page tests, driven over the Chrome DevTools Protocol (CDP) with aiohttp.

Why this and not selenium: Debian's ``chromium`` plus a WebSocket client is all it takes (aiohttp is already a test
dependency); no driver binary has to match the browser's version. :class:`HeadlessChromium` starts the browser with a
fresh profile and no network services, loads a page, waits for every image (lazy ones are scrolled into view), and
returns what the page shows as :class:`PageReport`: sections, images with their natural sizes, and every console
error, uncaught exception and failed resource the browser logged.

    with HeadlessChromium() as browser:
        report = browser.load(Path("outputs/view/index.html"))
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1024",
    "--remote-debugging-port=0",
)
START_TIMEOUT_S = 30.0
PAGE_TIMEOUT_S = 30.0
IMAGE_TIMEOUT_MS = 5000

# Scroll each image into view (the viewer marks them loading="lazy"), wait for it to load or fail, then describe
# the page. Runs in the page; returns plain JSON.
INSPECT_PAGE = """
(async () => {
  const images = Array.from(document.images);
  for (const img of images) {
    img.scrollIntoView();
    if (!img.complete) {
      await Promise.race([
        new Promise(done => { img.addEventListener('load', done, {once: true});
                              img.addEventListener('error', done, {once: true}); }),
        new Promise(done => setTimeout(done, IMAGE_TIMEOUT_MS)),
      ]);
    }
  }
  const box = el => el.getBoundingClientRect();
  return {
    sections: Array.from(document.querySelectorAll('section.trajectory')).map(s => ({
      id: s.id, height: box(s).height, turns: s.querySelectorAll('.turn').length})),
    images: images.map(img => ({src: img.getAttribute('src'), width: img.naturalWidth, height: img.naturalHeight,
                                complete: img.complete})),
    missing_images: document.querySelectorAll('.image-missing').length,
  };
})()
""".replace("IMAGE_TIMEOUT_MS", str(IMAGE_TIMEOUT_MS))


@dataclasses.dataclass(frozen=True)
class PageReport:
    """What a loaded page showed.

    Attributes:
        sections: ``{"id", "height", "turns"}`` of each ``section.trajectory``, in document order.
        images: ``{"src", "width", "height", "complete"}`` of each ``<img>`` (natural sizes; 0 if it did not load).
        missing_images: count of ``.image-missing`` placeholders.
        errors: console errors, uncaught exceptions and failed loads the browser reported, as text.
    """

    sections: list[dict[str, Any]]
    images: list[dict[str, Any]]
    missing_images: int
    errors: list[str]


def find_chromium() -> str | None:
    """The path of a Chromium binary on PATH, or None."""
    return next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)


class HeadlessChromium:
    """One headless Chromium process with a fresh profile; :meth:`load` opens a page in a new tab."""

    def __init__(self, binary: str | None = None) -> None:
        self.binary = binary or find_chromium()
        if self.binary is None:
            raise FileNotFoundError(f"no Chromium on PATH (tried {', '.join(CHROMIUM_NAMES)})")
        self._profile = tempfile.TemporaryDirectory(prefix="verl-pixel-chromium-")
        self._process: subprocess.Popen | None = None
        self.port = 0

    def __enter__(self) -> HeadlessChromium:
        command = [self.binary, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile.name}", "about:blank"]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.port = self._wait_for_port()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._profile.cleanup()

    def _wait_for_port(self) -> int:
        """Chromium writes the port it picked to ``DevToolsActivePort`` in the profile."""
        marker = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"chromium exited with {self._process.returncode} before listening")
            lines = marker.read_text().splitlines() if marker.is_file() else []
            if lines and lines[0].strip().isdigit():
                return int(lines[0])
            time.sleep(0.05)
        raise TimeoutError(f"chromium did not open its DevTools port within {START_TIMEOUT_S:.0f} s")

    def load(self, page: Path) -> PageReport:
        """Open ``page`` (a local file), wait for its load event and images, and report what it showed."""
        return asyncio.run(asyncio.wait_for(self._load(page.resolve().as_uri()), PAGE_TIMEOUT_S))

    async def _load(self, url: str) -> PageReport:
        import aiohttp

        async with aiohttp.ClientSession() as http:
            async with http.put(f"http://127.0.0.1:{self.port}/json/new?about:blank") as response:
                target = await response.json(content_type=None)
            try:
                async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as socket:
                    return await _CDPSession(socket).inspect(url)
            finally:
                async with http.get(f"http://127.0.0.1:{self.port}/json/close/{target['id']}"):
                    pass


class _CDPSession:
    """Requests and events on one tab's DevTools WebSocket."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.next_id = 0
        self.errors: list[str] = []
        self.loaded = False

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a command; collect events until its answer comes back."""
        self.next_id += 1
        request_id = self.next_id
        await self.socket.send_str(json.dumps({"id": request_id, "method": method, "params": params}))
        while True:
            message = json.loads((await self.socket.receive()).data)
            if message.get("id") == request_id:
                if "error" in message:
                    raise RuntimeError(f"CDP {method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Page.loadEventFired":
            self.loaded = True
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            texts = (str(arg.get("value", arg.get("description"))) for arg in params.get("args", []))
            self.errors.append("console: " + " ".join(texts))
        elif method == "Runtime.exceptionThrown":
            self.errors.append("exception: " + json.dumps(params.get("exceptionDetails", {}))[:500])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.errors.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())

    async def inspect(self, url: str) -> PageReport:
        for domain in ("Page", "Runtime", "Log"):
            await self.send(f"{domain}.enable")
        await self.send("Page.navigate", url=url)
        while not self.loaded:
            self._event(json.loads((await self.socket.receive()).data))
        result = await self.send("Runtime.evaluate", expression=INSPECT_PAGE, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page inspection failed: {result['exceptionDetails']}")
        value = result["result"]["value"]
        await self.send("Runtime.evaluate", expression="0")  # drain events logged while inspecting
        return PageReport(value["sections"], value["images"], value["missing_images"], self.errors)
