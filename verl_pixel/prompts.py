"""Every prompt text the project adds to a conversation, in one place (pure).

The question layout (shared by SFT data, RL rows and benchmarks), Pixel Reasoner's user-turn guidelines, the
default system prompt, and the instruction each rollout mode appends to it (METHOD.md §2).
"""

from __future__ import annotations

from collections.abc import Sequence

from verl_pixel.constants import OPTION_LETTERS
from verl_pixel.record import RolloutMode

# Pixel Reasoner's user-turn guidelines (paper App. E.1, prompts_dataset.py "vcot"), with the tool names used here.
DEFAULT_GUIDELINES = (
    "\n\nGuidelines: Understand the given visual information and the user query. Determine if it is beneficial to "
    "employ the given visual operations (tools). For a video, we can look closer by `select_frames`. For an image, "
    "we can look closer by `crop_image`. Reason with the visual information step by step, and put your final answer "
    "within \\boxed{}."
)

# Pixel Reasoner's guidelines cut to an image-only task offering crop_image alone (the look-or-not task): same
# instruction to decide whether to look closer and to box the answer, without the video tool it does not offer.
IMAGE_GUIDELINES = (
    "\n\nGuidelines: Determine if it is beneficial to look closer with `crop_image`. Reason step by step, and put "
    "your final answer within \\boxed{}."
)

# Qwen2.5-VL's chat template renders this system turn when a conversation has none (byte for byte); Qwen3-VL's
# renders none.
QWEN25_VL_DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
DEFAULT_SYSTEM_PROMPT = QWEN25_VL_DEFAULT_SYSTEM_PROMPT

DEFAULT_MODE_INSTRUCTIONS: dict[RolloutMode, str] = {
    RolloutMode.ADAPTIVE: "",
    RolloutMode.FORCE_TOOL: (
        "Before giving your final answer you must inspect the image with at least one visual operation."
    ),
    RolloutMode.NO_TOOL: "Answer directly from the image you were given; no visual operations are available.",
}


def format_question(question: str, options: Sequence[str]) -> str:
    """A question as shown to the model: multiple-choice options follow as ``(A) ...`` lines.

    The one place for the layout that the SFT data, the RL rows and the benchmarks all use.
    """
    if not options:
        return question
    lines = [f"({OPTION_LETTERS[i]}) {option}" for i, option in enumerate(options)]
    return question + "\nOptions:\n" + "\n".join(lines)
