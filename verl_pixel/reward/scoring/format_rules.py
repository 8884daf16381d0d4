"""DeepEyes' format rule, for ``pixel.reward.format.rule: deepeyes`` (pure).

``compute_score`` in Visual-Agent/DeepEyes (6c5e796) ``verl/utils/reward_score/vl_agent.py`` lines 190-260 marks a
response as a format error when

* ``<think>`` and ``</think>`` occur a different number of times;
* after the last ``</think>``, ``<answer>`` and ``</answer>`` occur a different number of times;
* the answer (``split("<answer>")[-1].split("</answer>")[0]``) is 1000 characters or longer; this one also sets the
  accuracy to 0 ("to hack llm-as-judge").

Its fourth check, unbalanced ``<|vision_start|><|image_pad|>`` pairs, cannot fail here: the images tools return
are rendered by the chat template, never written by the model. DeepEyes applies the rule to the whole response
(every assistant turn); here it reads the final assistant message, which is what the trajectory record keeps.
"""

from __future__ import annotations

import dataclasses

DEEPEYES_MAX_ANSWER_CHARS = 1000


@dataclasses.dataclass(frozen=True)
class DeepEyesFormat:
    """DeepEyes' verdict on a response: a format error, and whether its answer is too long to score."""

    error: bool
    answer_too_long: bool


def deepeyes_format(text: str) -> DeepEyesFormat:
    """Apply DeepEyes' format checks to ``text`` (module docstring)."""
    unbalanced_think = text.count("<think>") != text.count("</think>")
    after_think = text.split("</think>")[-1].strip()
    unbalanced_answer = after_think.count("<answer>") != after_think.count("</answer>")
    answer = text.split("<answer>")[-1].split("</answer>")[0].strip()
    too_long = len(answer) >= DEEPEYES_MAX_ANSWER_CHARS
    return DeepEyesFormat(unbalanced_think or unbalanced_answer or too_long, too_long)
