"""The ``hf`` backend's nudge test hook, turned on explicitly: forced first turns for random-weight models.

A random-weight policy never writes a tool call or a well-formed answer, so an end-to-end run that must exercise the
tool path (tool turns, images appended, Look Less compliance) or show known numbers forces its first turn. Every
shipped config leaves the hook off; a test that turns it on with these overrides says so, and the numbers it gets
(RaPR, TUR, compliance, accuracy) measure the hook, not the model. Forced tokens still come out of
``model.generate`` with the model's own log-probs, followed by the end of the turn.
"""

from __future__ import annotations

# The middle of the image, in each family's coordinates (Qwen2.5-VL: fractions; Qwen3-VL: 0..1000): inside every
# image, so the crop always succeeds.
FORCED_CROP_CALL = '<tool_call>{"name": "crop_image", "arguments": {"bbox_2d": [0.3, 0.3, 0.7, 0.7]}}</tool_call>'
FORCED_CROP_CALLS = {
    "qwen2_5_vl": FORCED_CROP_CALL,
    "qwen3_vl": '<tool_call>{"name": "crop_image", "arguments": {"bbox_2d": [300, 300, 700, 700]}}</tool_call>',
}
# For mixed image + video data: a crop (succeeds on an image, refused on a video: "call select_frames first") and a
# frame selection (succeeds on a 16-frame video, refused on an image), so each rollout makes exactly one operation.
FORCED_CROP_AND_FRAMES_CALLS = (
    FORCED_CROP_CALL + '<tool_call>{"name": "select_frames", "arguments": {"target_frames": [5, 9]}}</tool_call>'
)
HF_OPTIONS = "actor_rollout_ref.rollout.engine_kwargs.hf"


def forced_first_turn_overrides(text: str, every: int = 1, followup: str = "") -> list[str]:
    """Hydra overrides forcing every ``every``-th first turn of a trajectory to be ``text`` (1: all of them).

    With ``followup``, every later turn is forced to be that text (e.g. an answer after a forced tool call).
    The texts must not contain a single quote (they are passed quoted).
    """
    if "'" in text + followup:
        raise ValueError("forced turns: the text cannot contain a single quote")
    overrides = [f"++{HF_OPTIONS}.nudge_every={every}", f"++{HF_OPTIONS}.nudge_text='{text}'"]
    return overrides + ([f"++{HF_OPTIONS}.nudge_followup_text='{followup}'"] if followup else [])


def forced_tool_call_overrides(
    every: int = 1, family: str = "qwen2_5_vl", text: str | None = None, followup: str = ""
) -> list[str]:
    """Force the family's crop call (:data:`FORCED_CROP_CALLS`, or ``text``) as every ``every``-th first turn.

    With ``followup``, every later turn is forced to that text.
    """
    return forced_first_turn_overrides(text or FORCED_CROP_CALLS[family], every, followup)
