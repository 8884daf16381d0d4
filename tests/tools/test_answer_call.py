"""One answering path: the tools' ``execute`` and the loop's own answers both go through ``answer_call``."""

from __future__ import annotations

from PIL import Image
from verl.experimental.agent_loop.tool_agent_loop import AgentData

from verl_pixel.ops import FailureReason, MalformedToolCall, ToolCall, VisualOpsConfig
from verl_pixel.tools.session import TOOL_EVENTS_KEY, answer_call, trajectory_registry

CONFIG = VisualOpsConfig()
MALFORMED = MalformedToolCall(raw="{", reason=FailureReason.BAD_JSON, message="tool call is not valid JSON")


def agent_data(image: Image.Image) -> AgentData:
    prompt = [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": "Q?"}]}]
    return AgentData(
        messages=prompt, image_data=[image], video_data=None, audio_data=None, mm_processor_kwargs=None,
        metrics={}, request_id="r", tools_kwargs={},
    )  # fmt: skip


async def test_every_path_syncs_the_images_counts_the_call_and_records_it():
    data = agent_data(Image.new("RGB", (280, 224), "white"))
    first = await answer_call(data, CONFIG, MALFORMED, available=("crop_image", "select_frames"))
    assert (first.ok, first.reason, first.message) == (False, FailureReason.BAD_JSON, "tool call is not valid JSON")
    # another tool of the user's appends an image; the loop's next answer (a malformed call) numbers it
    data.image_data.append(Image.new("RGB", (140, 112), "red"))
    await answer_call(data, CONFIG, MALFORMED)
    registry = trajectory_registry(data)
    assert (registry.num_images, registry.operations_attempted) == (2, 2)
    # so a crop of image 2 is numbered 3, whichever path answered the calls before
    crop = await answer_call(data, CONFIG, ToolCall("crop_image", {"bbox_2d": [0, 0, 1, 1], "target_image": 2}))
    assert crop.ok and crop.image_numbers == (3,)
    assert [event["reason"] for event in data.extra_fields[TOOL_EVENTS_KEY]] == ["bad_json", "bad_json", ""]


async def test_a_refused_call_counts_against_the_budget():
    data = agent_data(Image.new("RGB", (280, 224), "white"))
    refused = await answer_call(data, VisualOpsConfig(max_operations=1), ToolCall("crop_image", {}), available=())
    assert refused.reason is FailureReason.NOT_ALLOWED
    assert trajectory_registry(data).operations_attempted == 1
