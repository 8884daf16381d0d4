"""Pixel Reasoner's tool-output layout in RL rollouts: the packaged template variant + output_style pixel_reasoner."""

from __future__ import annotations

import itertools

from verl_pixel.configs import read_chat_template
from verl_pixel.constants import PIXEL_REASONER_TOOL_TEMPLATE
from verl_pixel.testing.agent_harness import Rollouts, call, tools_yaml

CROP = "Let me zoom in." + call(bbox_2d=[0.1, 0.1, 0.5, 0.5])
BAD = call(bbox_2d=[0.1, 0.2, 0.3])
FINAL = "\\boxed{red}"


def tool_turns(out, tokenizer):
    resp, mask = out.batch["responses"][0].tolist(), out.batch["response_mask"][0].tolist()
    n = int(out.batch["attention_mask"][0, -len(resp) :].sum())
    runs = itertools.groupby(zip(resp[:n], mask[:n], strict=True), lambda x: x[1])
    return [tokenizer.decode([t for t, _ in run]) for m, run in runs if m == 0]


def test_tool_outputs_are_user_turns_with_text_before_the_image(tiny_model_dir, tiny_tokenizer, tmp_path):
    path = tools_yaml(tmp_path, output_style="pixel_reasoner")
    r = Rollouts(tiny_model_dir, tiny_tokenizer, [f"actor_rollout_ref.rollout.multi_turn.tool_config_path={path}"])
    # verl's AgentLoopWorker applies model.custom_chat_template to the processor (a dict value: no hydra quoting).
    r.config.actor_rollout_ref.model.custom_chat_template = read_chat_template(PIXEL_REASONER_TOOL_TEMPLATE)
    out, _ = r.one([CROP, BAD, FINAL])
    crop_turn, error_turn = tool_turns(out, tiny_tokenizer)
    # 320x240 input; the crop [.1,.5] plus 0.1 padding is (0,0,192,144) of the original -> 196x140 for the model.
    # Pixel Reasoner's strings start with a newline, as in its code.
    pads = "<|image_pad|>" * 35
    assert crop_turn == (
        "\n<|im_start|>user\n\nHere is the cropped image (Image Size: 196x140):"
        f"<|vision_start|>{pads}<|vision_end|><|im_end|>\n<|im_start|>assistant\n"
    )
    assert error_turn.startswith("\n<|im_start|>user\n\nExecution error:\n")
    assert "bbox_2d" in error_turn and "<tool_response>" not in error_turn


def test_template_variant_is_prefix_stable(tiny_processor):
    template = read_chat_template(PIXEL_REASONER_TOOL_TEMPLATE)
    conversation = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Q?"}]},
        {
            "role": "assistant",
            "content": "Look.",
            "tool_calls": [
                {"type": "function", "function": {"name": "crop_image", "arguments": {"bbox_2d": [0, 0, 1, 1]}}}
            ],
        },
        {"role": "tool", "content": [{"type": "image"}, {"type": "text", "text": "Here is the cropped image:"}]},
        {"role": "assistant", "content": "\\boxed{A}"},
    ]

    def ids(messages):
        out = tiny_processor.apply_chat_template(messages, chat_template=template, tokenize=True, return_dict=False)
        return out[0] if isinstance(out[0], list) else out

    whole = ids(conversation)
    for cut in range(1, len(conversation) + 1):
        prefix = ids(conversation[:cut])
        assert whole[: len(prefix)] == prefix, cut
