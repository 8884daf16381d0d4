"""Project-wide constants that are facts about the models and verl, not tunable knobs.

Tunable defaults live in the frozen config dataclasses of each layer (``ops``, ``reward``, ...).
"""

from __future__ import annotations

# Qwen2.5-VL / Qwen3-VL special tokens, in the order of their ids in the real Qwen vocabulary
# (151643 = <|endoftext|> ... ). The tiny test tokenizer keeps this order so the ids are contiguous.
QWEN_SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
# Added (non-special) tokens: they must survive ``skip_special_tokens=True`` decoding so tool calls stay visible.
QWEN_ADDED_TOKENS: tuple[str, ...] = (
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<think>",
    "</think>",
)
# Qwen3 / Qwen3-VL's added tokens after <|video_pad|>, in the order of their ids (151657 ... 151668; the Qwen3-VL
# tokenizer_config.json "added_tokens_decoder"): all non-special.
QWEN3_ADDED_TOKENS: tuple[str, ...] = (
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
    "<tool_response>",
    "</tool_response>",
    "<think>",
    "</think>",
)
QWEN_FIRST_SPECIAL_TOKEN_ID = 151643  # <|endoftext|> in the real Qwen2.5 / Qwen3 vocabularies

IMAGE_PAD = "<|image_pad|>"
VIDEO_PAD = "<|video_pad|>"
VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
ENDOFTEXT = "<|endoftext|>"

# Vision geometry of the Qwen-VL families: patch size and spatial merge; a merged token covers factor×factor px.
QWEN25_VL_PATCH_SIZE = 14
QWEN3_VL_PATCH_SIZE = 16
QWEN_VL_MERGE_SIZE = 2

# The chat templates shipped with the package (render tools and images inside tool messages), one per family.
QWEN25_VL_TOOL_TEMPLATE = "qwen2_5_vl_tools.jinja"
QWEN3_VL_TOOL_TEMPLATE = "qwen3_vl_tools.jinja"
# Variant rendering tool outputs as plain user turns, text first (Pixel Reasoner checkpoints; with the
# tools' output_style: pixel_reasoner).
PIXEL_REASONER_TOOL_TEMPLATE = "pixel_reasoner_tools.jinja"

# Multiple-choice option letters, in order: option i is shown as "(A) ...", "(B) ...", ...
OPTION_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# The name pixel_agent is registered under in verl's agent-loop registry (a row's `agent_name`).
PIXEL_AGENT_NAME = "pixel_agent"

# Environment variable / value that selects verl-pixel's CPU platform (verl's own platform override variable).
VERL_PLATFORM_ENV = "VERL_PLATFORM"
CPU_PLATFORM_NAME = "cpu"

# The eval rows' ``extra_info`` field saying how many of the row's images are a video's sampled frames (0 or all of
# them); ``pixel_agent`` and the endpoint evaluation then treat those images as the video (``ops/budgets.py``).
NUM_VIDEO_FRAMES_FIELD = "num_video_frames"

# Largest image decoded (pixels): PIL's own decompression-bomb warning limit, Image.MAX_IMAGE_PIXELS

# Decoded full-resolution originals (crop_source: original) one agent-loop worker process keeps, shared by its
# trajectories (verl_pixel/tools/original_cache.py); the environment variable overrides it in every worker.
ORIGINALS_CACHE_MB = 1024
ORIGINALS_CACHE_ENV = "VERL_PIXEL_ORIGINALS_CACHE_MB"
# (1024 * 1024 * 1024 // 4 // 3). Larger images are refused from their header, before decoding.
MAX_IMAGE_PIXELS = 89_478_485

# The training rows' ``extra_info`` field carrying the necessity memory's probe plan for this visit (written by
# PixelRLDataset, read by pixel_agent and the group-shaping replay buffer; see verl_pixel/rollout/probe_plan.py), and
# verl 0.9.1's per-row rollout count that AgentLoopWorkerTQ._run_prompt pops ("user can dynamically adjust n").
PROBE_PLAN_FIELD = "pixel_probe_plan"
ROLLOUT_N_FIELD = "__rollout_n__"
# The rows' ``extra_info`` label saying whether a question needs a closer look (look-or-not task, seeds): read for
# metrics only (TUR split by need), never by a reward.
NEED_LABEL_FIELD = "needs_zoom"

# The advantage estimator verl-pixel registers (verl's register_adv_est) for methods whose replay buffer step
# writes finished per-rollout advantages (HDPO): it hands them to the loss unchanged.
PRECOMPUTED_ADV_ESTIMATOR = "pixel_precomputed"
