"""Fixtures of the viewer tests (fixtures only: --import-mode=importlib cannot import conftest)."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from verl_pixel.testing.agent_harness import Rollouts

LOSS_CLASSES = ("trained", "masked")


class _SpanCollector(HTMLParser):
    """(class, text) of every ``<span class="trained|masked">`` inside ``div.conversation``, in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.spans: list[tuple[str, str]] = []
        self._div_depth = 0  # depth inside the conversation div (0: outside)
        self._open: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "div" and (self._div_depth or "conversation" in classes):
            self._div_depth += 1
        if tag == "span" and self._div_depth and set(classes) & set(LOSS_CLASSES):
            assert len(classes) == 1, classes  # exactly one loss class, nothing else
            self._open = [classes[0], ""]

    def handle_endtag(self, tag):
        if tag == "div" and self._div_depth:
            self._div_depth -= 1
        if tag == "span" and self._open is not None:
            self.spans.append((self._open[0], self._open[1]))
            self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self._open[1] += data


@pytest.fixture(scope="session")
def conversation_spans() -> Callable[[str], list[list[tuple[str, str]]]]:
    """Per ``<section>`` of a viewer page: its conversation's (loss class, unescaped text) spans."""

    def parse(page: str) -> list[list[tuple[str, str]]]:
        sections = page.split('<section class="trajectory"')[1:]
        out = []
        for section in sections:
            collector = _SpanCollector()
            collector.feed('<section class="trajectory"' + section)
            out.append(collector.spans)
        return out

    return parse


@pytest.fixture(scope="session")
def colour_pixels() -> Callable[[Path, tuple[int, int, int]], set[tuple[int, int]]]:
    """The (x, y) pixels of a PNG that have exactly one RGB colour."""

    def find(path: Path, colour: tuple[int, int, int]) -> set[tuple[int, int]]:
        array = np.asarray(Image.open(path).convert("RGB"))
        ys, xs = np.nonzero(np.all(array == np.array(colour, dtype=np.uint8), axis=-1))
        return {(int(x), int(y)) for x, y in zip(xs, ys, strict=True)}

    return find


@pytest.fixture(scope="session")
def rollouts(tiny_model_dir, tiny_tokenizer):
    return Rollouts(tiny_model_dir, tiny_tokenizer)


def outline(left: int, top: int, right: int, bottom: int, width: int) -> set[tuple[int, int]]:
    """Pixels of a rectangle outline with inclusive corners, ``width`` pixels thick inward."""
    return {
        (x, y)
        for x in range(left, right + 1)
        for y in range(top, bottom + 1)
        if x < left + width or x > right - width or y < top + width or y > bottom - width
    }


@pytest.fixture(scope="session")
def outline_pixels() -> Callable[..., set[tuple[int, int]]]:
    return outline


@pytest.fixture(scope="session")
def browser():
    """A real headless Chromium (Debian's ``chromium``, installed by ``.ci/run``) for page-load checks."""
    from verl_pixel.testing.headless_browser import HeadlessChromium, find_chromium

    if find_chromium() is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium; .ci/run installs it)")
    with HeadlessChromium() as chromium:
        yield chromium
