"""``actor_rollout_ref.rollout.engine_kwargs.hf``: a typed, frozen config that names the full path of a bad key."""

from __future__ import annotations

import dataclasses

import pytest
from omegaconf import OmegaConf

from verl_pixel.backends.hf_options import HFServerOptions

PATH = "actor_rollout_ref.rollout.engine_kwargs.hf"


def test_options_parse_from_verl_engine_kwargs():
    kwargs = OmegaConf.create({"hf": {"max_batch_size": 8, "nudge_every": 2, "nudge_text": "<tool_call>"}})
    options = HFServerOptions.from_engine_kwargs(kwargs)
    assert options == HFServerOptions(max_batch_size=8, nudge_text="<tool_call>", nudge_every=2)
    assert HFServerOptions.from_engine_kwargs({}) == HFServerOptions.from_engine_kwargs(None) == HFServerOptions()
    assert HFServerOptions() == HFServerOptions(16, "", 0, True, "")  # the documented defaults; the nudge hook is off
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.max_batch_size = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("hf", "message"),
    [
        ({"max_batch": 8}, f"{PATH}.max_batch: unknown key (known: max_batch_size, nudge_every, "
         "nudge_followup_text, nudge_text, suppress_vision_tokens)"),
        ({"max_batch_size": "8"}, f"{PATH}.max_batch_size: expected an integer >= 1, got '8'"),
        ({"max_batch_size": 0}, f"{PATH}.max_batch_size: expected an integer >= 1, got 0"),
        ({"nudge_every": -1}, f"{PATH}.nudge_every: expected an integer >= 0, got -1"),
        ({"nudge_every": True}, f"{PATH}.nudge_every: expected an integer >= 0, got True"),
        ({"nudge_text": 3}, f"{PATH}.nudge_text: expected a string, got 3"),
        ({"nudge_followup_text": 3}, f"{PATH}.nudge_followup_text: expected a string, got 3"),
        ({"suppress_vision_tokens": "yes"}, f"{PATH}.suppress_vision_tokens: expected true or false, got 'yes'"),
        (8, f"{PATH}: expected a mapping, got 8"),
    ],
)  # fmt: skip
def test_bad_options_name_their_full_path(hf, message):
    with pytest.raises(ValueError) as err:
        HFServerOptions.from_engine_kwargs({"hf": hf})
    assert str(err.value) == message
