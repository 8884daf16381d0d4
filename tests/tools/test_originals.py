"""Finding stored originals in verl's AgentData: prompt items, tools_kwargs override, the reference forms."""

from __future__ import annotations

import base64
from io import BytesIO
from types import SimpleNamespace

import pytest
from PIL import Image

from verl_pixel.tools.originals import load_image_ref, load_originals, original_image_refs, prompt_image_items


def _png_bytes(size=(40, 20)) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_prompt_items_stop_at_the_first_assistant_turn():
    image = Image.new("RGB", (40, 20))
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": [{"type": "image", "image": image}, {"type": "video", "video": "v.mp4"}]},
        {"role": "assistant", "content": "..."},
        {"role": "tool", "content": [{"type": "image", "image": Image.new("RGB", (8, 8))}]},  # a crop, not an input
    ]
    assert prompt_image_items(messages) == [{"type": "image", "image": image}]


def test_tools_kwargs_override_the_prompt():
    agent_data = SimpleNamespace(
        tools_kwargs={"select_frames": {"create_kwargs": {"original_images": ["/data/a.png"]}}},
        messages=[{"role": "user", "content": [{"type": "image", "image": "/data/small.png"}]}],
    )
    assert original_image_refs(agent_data) == ["/data/a.png"]


@pytest.mark.parametrize(
    "make_ref",
    [
        lambda path, data: Image.open(BytesIO(data)),  # PIL image
        lambda path, data: str(path),  # plain path
        lambda path, data: f"file://{path}",  # file URL
        lambda path, data: "data:image/png;base64," + base64.b64encode(data).decode(),  # data URL
        lambda path, data: data,  # raw bytes
        lambda path, data: {"type": "image", "bytes": data, "path": None},  # parquet row form
        lambda path, data: {"type": "image_url", "image_url": {"url": f"file://{path}"}},  # OpenAI form
    ],
)
def test_reference_forms(tmp_path, make_ref):
    data = _png_bytes()
    path = tmp_path / "image.png"
    path.write_bytes(data)
    assert load_image_ref(make_ref(path, data)).size == (40, 20)


@pytest.mark.parametrize("ref", ["https://example.com/a.png", "/no/such/file.png", 42, {"type": "image"}])
def test_unreadable_references_give_none(ref):
    assert load_image_ref(ref) is None  # the registry then crops the model's copy


def test_count_mismatch_drops_originals():
    agent_data = SimpleNamespace(
        tools_kwargs={}, messages=[{"role": "user", "content": [{"type": "image", "image": "a"}]}]
    )
    assert load_originals(agent_data, expected=2) is None
