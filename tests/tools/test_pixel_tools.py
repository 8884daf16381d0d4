"""The verl adapters, driven the way verl 0.9.1's ToolAgentLoop drives them.

Tools come from the shipped YAML through verl's own loader, and calls go through the real
``ToolAgentLoop._call_tool`` (JSON decoding, create / execute / release, text truncation) with a real ``AgentData``.

Reference trajectory: a stored 2016x1176 original; verl holds the model's copy at 1008x588 (what fetch_image
makes of it under the YAML's image_max_pixels = 2000*28*28 = 1568000: 1008*588 = 592704 fits, both sides are
multiples of 28, so the processor keeps it). One view pixel = exactly 2 original pixels.
"""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from verl.experimental.agent_loop.tool_agent_loop import AgentData, ToolAgentLoop
from verl.experimental.agent_loop.tool_parser import FunctionCall
from verl.tools.schemas import ToolResponse
from verl.tools.tool_registry import initialize_tools_from_config

from verl_pixel.ops import ImageRegistry
from verl_pixel.tools.pixel_tools import CropImageTool, SelectFramesTool
from verl_pixel.tools.schema_yaml import DEFAULT_YAML_PATH
from verl_pixel.tools.session import SESSION_ATTRIBUTE, TOOL_EVENTS_KEY, pop_tool_events

VIEW_SIZE = (1008, 588)


def _noise(size: tuple[int, int], seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def tools() -> dict:
    loaded = initialize_tools_from_config(str(DEFAULT_YAML_PATH))
    return {tool.name: tool for tool in loaded}


@pytest.fixture(scope="module")
def original() -> Image.Image:
    return _noise((2016, 1176))


@pytest.fixture
def loop(tools) -> SimpleNamespace:
    """The attributes ToolAgentLoop._call_tool reads from its instance (verl's defaults for the knobs)."""
    return SimpleNamespace(tools=tools, max_tool_response_length=256, tool_response_truncate_side="middle")


def make_agent_data(images=None, prompt_images=None, videos=None, tools_kwargs=None) -> AgentData:
    """A real verl AgentData as ToolAgentLoop.run builds it: the prompt still holds the dataset's image items."""
    content = [{"type": "image", "image": image} for image in (prompt_images or [])]
    content.append({"type": "text", "text": "What does the sign say?"})
    return AgentData(
        messages=[{"role": "user", "content": content}, {"role": "assistant", "content": "Let me zoom in."}],
        image_data=images,
        video_data=videos,
        audio_data=None,
        mm_processor_kwargs=None,
        metrics={},
        request_id="test-request",
        tools_kwargs=tools_kwargs or {},
    )


async def call(loop, agent_data: AgentData, name: str, arguments: dict) -> ToolResponse:
    """One call through verl's own dispatch; images are appended the way _handle_processing_tools_state does."""
    call_ = FunctionCall(name=name, arguments=json.dumps(arguments))
    response, reward, _ = await ToolAgentLoop._call_tool(loop, call_, agent_data.tools_kwargs, agent_data)
    assert reward == 0.0
    if response.image:
        agent_data.image_data = [*(agent_data.image_data or []), *response.image]
    return response


def test_verl_loader_builds_both_tools(tools):
    assert isinstance(tools["crop_image"], CropImageTool) and isinstance(tools["select_frames"], SelectFramesTool)
    assert tools["crop_image"].ops_config.image_max_pixels == 2000 * 28 * 28
    properties = tools["crop_image"].tool_schema.function.parameters.properties
    assert set(properties) == {"bbox_2d", "target_image"}


async def test_crop_is_cut_from_the_prompt_original(loop, original):
    agent_data = make_agent_data([original.resize(VIEW_SIZE)], prompt_images=[original])
    response = await call(loop, agent_data, "crop_image", {"bbox_2d": [100, 100, 300, 200]})
    # pad 0.1: +-100.8 x, +-58.8 y -> [-0.8,41.2,400.8,258.8] -> clamped [0,41.2,400.8,258.8] -> x2 original
    # [0,82.4,801.6,517.6] -> outward [0,82,802,518], 802x436 -> round(802/28)*28 = 812, round(436/28)*28 = 448
    assert response.text == "Image 2: crop of image 1 (812x448)."
    (crop,) = response.image
    expected = original.crop((0, 82, 802, 518)).resize((812, 448), Image.Resampling.BICUBIC)
    assert crop.tobytes() == expected.tobytes()
    assert agent_data.extra_fields[TOOL_EVENTS_KEY] == [
        {"operation": "crop_image", "ok": True, "reason": "", "images_added": 1, "pixels_added": 812 * 448}
    ]


async def test_crop_of_crop_after_verl_appended_the_first(loop, original):
    agent_data = make_agent_data([original.resize(VIEW_SIZE)], prompt_images=[original])
    # image 2: [0,0,0.5,0.5] of 1008x588 = [0,0,504,294], padded by 100.8 / 58.8 and clamped -> [0,0,604.8,352.8],
    # x2 -> original [0,0,1209.6,705.6] -> outward [0,0,1210,706]. Over 784000 px, so smart_resize scales down:
    # beta = sqrt(1210*706/784000) = 1.04385 -> floor(1210/1.04385/28)*28 = 1148, floor(706/1.04385/28)*28 = 672.
    first = await call(loop, agent_data, "crop_image", {"bbox_2d": [0.0, 0.0, 0.5, 0.5]})
    assert first.text == "Image 2: crop of image 1 (1148x672)."
    # image 3: [0.25,0.5] of 1148x672 = [287,574] x [168,336], padded by 114.8 / 67.2 -> [172.2,688.8] x [100.8,403.2];
    # to the original with 1210/1148 and 706/672 -> [181.5,726.0] x [105.9,423.6] -> outward [181,105,726,424],
    # 545x319 -> round(545/28)*28 = 532, round(319/28)*28 = 308.
    second = await call(loop, agent_data, "crop_image", {"bbox_2d": [0.25, 0.25, 0.5, 0.5], "target_image": 2})
    assert second.text == "Image 3: crop of image 2 (532x308)."
    registry = getattr(agent_data, SESSION_ATTRIBUTE).registry
    assert registry.view(3).region.as_tuple() == (181.0, 105.0, 726.0, 424.0)
    assert len(agent_data.image_data) == 3


async def test_originals_from_tools_kwargs(loop, original, tmp_path):
    # the prompt holds only the downscaled copy; the row points at the stored original on disk
    path = tmp_path / "original.png"
    original.save(path)
    view = original.resize(VIEW_SIZE)
    tools_kwargs = {"crop_image": {"create_kwargs": {"original_images": [f"file://{path}"]}}}
    agent_data = make_agent_data([view], prompt_images=[view], tools_kwargs=tools_kwargs)
    response = await call(loop, agent_data, "crop_image", {"bbox_2d": [100, 100, 300, 200]})
    expected = original.crop((0, 82, 802, 518)).resize((812, 448), Image.Resampling.BICUBIC)
    assert response.image[0].tobytes() == expected.tobytes()


async def test_malformed_arguments_reach_the_model_and_the_metrics(loop, original):
    agent_data = make_agent_data([original.resize(VIEW_SIZE)], prompt_images=[original])
    response = await call(loop, agent_data, "crop_image", {"bbox_2d": "top left corner"})
    assert response.image is None
    assert response.text.startswith(
        'Error: bbox_2d must be a list of 4 numbers [x1, y1, x2, y2], got "top left corner"'
    )
    assert "(truncated)" not in response.text  # short enough for verl's 256-character default
    events = pop_tool_events(agent_data.extra_fields)
    assert events == [
        {"operation": "crop_image", "ok": False, "reason": "bad_type", "images_added": 0, "pixels_added": 0}
    ]
    assert TOOL_EVENTS_KEY not in agent_data.extra_fields


async def test_select_frames_from_a_verl_video(loop):
    # qwen_vl_utils.fetch_video layout: (T, C, H, W) float tensor plus metadata
    video = torch.full((16, 3, 168, 224), 128.0)
    agent_data = make_agent_data(images=None, videos=[(video, {"fps": 2.0})])
    frames = await call(loop, agent_data, "select_frames", {"target_frames": [1, 8]})
    assert frames.text == "Images 1 to 2: frames 1, 8 of the video (224x168 each)."
    assert [image.size for image in frames.image] == [(224, 168), (224, 168)]
    # the returned frames are images 1 and 2 now, so they can be cropped
    crop = await call(loop, agent_data, "crop_image", {"bbox_2d": [0.0, 0.0, 0.5, 0.5], "target_image": 2})
    assert crop.text.startswith("Image 3: crop of image 2")


async def test_modality_errors(loop, original):
    video_only = make_agent_data(videos=[(torch.zeros(4, 3, 56, 56), {})])
    response = await call(loop, video_only, "crop_image", {"bbox_2d": [0, 0, 10, 10]})
    assert "input is a video: call select_frames first" in response.text
    image_only = make_agent_data([original.resize(VIEW_SIZE)], prompt_images=[original])
    response = await call(loop, image_only, "select_frames", {"target_frames": [1]})
    assert "select_frames works on a video" in response.text


async def test_parallel_calls_are_numbered_in_call_order(loop, original):
    agent_data = make_agent_data([original.resize(VIEW_SIZE)], prompt_images=[original])
    boxes = [[0, 0, 100, 100], [500, 300, 700, 500], [900, 500, 1000, 580]]
    responses = await asyncio.gather(*(call(loop, agent_data, "crop_image", {"bbox_2d": box}) for box in boxes))
    assert [response.text.split(":")[0] for response in responses] == ["Image 2", "Image 3", "Image 4"]


async def test_trajectories_do_not_share_state(loop, original):
    first = make_agent_data([original.resize(VIEW_SIZE)], prompt_images=[original])
    second = make_agent_data([original.resize(VIEW_SIZE)], prompt_images=[original])
    await asyncio.gather(*(call(loop, first, "crop_image", {"bbox_2d": [0, 0, 100, 100]}) for _ in range(3)))
    response = await call(loop, second, "crop_image", {"bbox_2d": [0, 0, 100, 100]})
    assert response.text.startswith("Image 2:")  # the other trajectory's three crops do not count here
    assert len(first.extra_fields[TOOL_EVENTS_KEY]) == 3 and len(second.extra_fields[TOOL_EVENTS_KEY]) == 1


async def test_call_budget_per_trajectory(loop, original):
    agent_data = make_agent_data([original.resize(VIEW_SIZE)], prompt_images=[original])
    for _ in range(4):  # the YAML allows 4 operations per trajectory
        await call(loop, agent_data, "crop_image", {"bbox_2d": [0, 0, 100, 100]})
    response = await call(loop, agent_data, "crop_image", {"bbox_2d": [0, 0, 100, 100]})
    assert response.text == "Error: you have used all 4 visual operations allowed; answer with what you have seen"


async def test_pil_work_runs_off_the_event_loop(tools, original, monkeypatch):
    import threading

    threads = []
    real_sync = ImageRegistry.sync

    def spy(registry, images):  # the first thing the answering path does in its worker thread
        threads.append(threading.current_thread())
        return real_sync(registry, images)

    monkeypatch.setattr(ImageRegistry, "sync", spy)
    agent_data = make_agent_data([original.resize(VIEW_SIZE)], prompt_images=[original])
    await tools["crop_image"].execute("id", {"bbox_2d": [0, 0, 100, 100]}, agent_data=agent_data)
    assert len(threads) == 1 and threads[0] is not threading.main_thread()


async def test_execute_without_agent_data(tools):
    response, reward, metrics = await tools["crop_image"].execute("id", {"bbox_2d": [0, 0, 100, 100]})
    assert "the agent loop passed no agent_data" in response.text and reward == 0.0 and metrics["ok"] is False
