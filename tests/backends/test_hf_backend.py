"""The hf rollout backend: exact greedy parity with model.generate, sampling mapping, batching, weights, registry."""

from __future__ import annotations

import asyncio

import pytest
import torch
from PIL import Image

from verl_pixel.backends.hf_generation import SamplingSpec, _cut, max_new_tokens
from verl_pixel.testing.agent_harness import compose_ppo_config, image_prompt

GREEDY = {"temperature": 0, "top_p": 1.0, "top_k": -1, "max_tokens": 10}


def make_server(model_dir, *overrides):
    from verl_pixel.backends.hf_server import HFRolloutServer

    # The CPU configs' settings: fp32 (the parity checks compare with an fp32 model.generate) and sdpa.
    cpu = [
        "actor_rollout_ref.rollout.dtype=float32",
        "+actor_rollout_ref.model.override_config.attn_implementation=sdpa",
    ]
    cfg = compose_ppo_config(model_dir, ["actor_rollout_ref.rollout.load_format=auto", *cpu, *overrides])
    return HFRolloutServer(cfg.actor_rollout_ref.rollout, cfg.actor_rollout_ref.model)


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    # Faithful generation (no token suppression): what model.generate does, for the parity checks.
    return make_server(tiny_model_dir, "+actor_rollout_ref.rollout.engine_kwargs.hf.suppress_vision_tokens=False")


@pytest.fixture(scope="module")
def family_server(family_model_dir):
    return make_server(family_model_dir, "+actor_rollout_ref.rollout.engine_kwargs.hf.suppress_vision_tokens=False")


@pytest.fixture(scope="module")
def family_model(family_model_dir):
    from transformers import AutoModelForImageTextToText

    return AutoModelForImageTextToText.from_pretrained(family_model_dir).eval()


def encode(processor, size, text="What color?"):
    image = Image.new("RGB", size, (200, 30, 30))
    prompt = processor.apply_chat_template(image_prompt([image], text), add_generation_prompt=True, tokenize=False)
    return processor(text=[prompt], images=[image], return_tensors="pt"), image


@pytest.mark.parametrize("size", [(112, 112), (200, 150), (64, 96)])
def test_greedy_generate_matches_model_generate_token_for_token(family_server, family_model, family_processor, size):
    server, model, tiny_processor = family_server, family_model, family_processor
    enc, image = encode(tiny_processor, size)
    out = asyncio.run(server.generate(enc["input_ids"][0].tolist(), GREEDY, "r", image_data=[image]))
    ref = model.generate(**enc, max_new_tokens=10, do_sample=False)[0, enc["input_ids"].shape[1] :].tolist()
    assert out.token_ids == ref
    # Log-probs are the model's own: recompute them with one forward pass over prompt + output. A random model
    # may emit <|image_pad|> itself, which a forward pass would read as a missing image: stop before that.
    pad = tiny_processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    kept = out.token_ids[: out.token_ids.index(pad)] if pad in out.token_ids else out.token_ids
    assert kept, "the check needs at least one generated token"
    full = torch.tensor([enc["input_ids"][0].tolist() + kept])
    with torch.no_grad():
        types = torch.cat([enc["mm_token_type_ids"][0], torch.zeros(len(kept), dtype=torch.long)])[None]
        logits = model(
            input_ids=full,
            pixel_values=enc["pixel_values"],
            image_grid_thw=enc["image_grid_thw"],
            mm_token_type_ids=types,
        ).logits
    n = len(kept)
    expected = torch.log_softmax(logits[0, -n - 1 : -1].float(), -1)[torch.arange(n), torch.tensor(kept)]
    assert torch.allclose(torch.tensor(out.log_probs[:n]), expected, atol=1e-4)


def _video(colour_step: int = 10, patch_size: int = 14):
    from verl_pixel.data.videos import load_video

    frames = [Image.new("RGB", (84, 56), (colour_step * i, 100, 60)) for i in range(8)]
    factor = 2 * patch_size
    item = {"video": frames, "min_pixels": 4 * factor**2, "max_pixels": 16 * factor**2}
    return load_video(item, image_patch_size=patch_size)


# 8 frames of 84x56 at 4 to 16 tokens: Qwen2.5-VL 112x56 (fetch_image's factor 56), grid (4, 4, 8), 32 pads;
# Qwen3-VL 64x64 (factor 64), grid (4, 4, 4), 16 pads in 4 timestamped blocks.
VIDEO_GRIDS = {"qwen2_5_vl": [[4, 4, 8]], "qwen3_vl": [[4, 4, 4]]}


def encode_video(processor, video, text="What happens?"):
    from verl_pixel.testing.agent_harness import video_prompt

    prompt = processor.apply_chat_template(video_prompt([], text), add_generation_prompt=True, tokenize=False)
    return processor(
        text=[prompt], videos=[video.frames], video_metadata=[video.metadata], do_sample_frames=False,
        return_tensors="pt",
    )  # fmt: skip


def test_videos_generate_token_for_token_alone_and_batched_with_images(
    family, family_server, family_model, family_processor
):
    server, model, processor = family_server, family_model, family_processor
    # A list's metadata says 2 fps: Qwen2.5-VL's second_per_grid_ts is 1, so model.generate places the video as
    # verl's position_ids do (verl passes none); Qwen3-VL places each frame by itself.
    video = _video(patch_size=processor.image_processor.patch_size)
    enc = encode_video(processor, video)
    assert enc["video_grid_thw"].tolist() == VIDEO_GRIDS[family]
    assert enc.get("second_per_grid_ts", torch.ones(1)).tolist() == [1.0]
    ref = model.generate(**enc, max_new_tokens=10, do_sample=False)[0, enc["input_ids"].shape[1] :].tolist()
    image_enc, image = encode(processor, (112, 112))
    image_ref = model.generate(**image_enc, max_new_tokens=10, do_sample=False)[0, image_enc["input_ids"].shape[1] :]
    ids = enc["input_ids"][0].tolist()
    assert asyncio.run(server.generate(ids, GREEDY, "v", video_data=[video])).token_ids == ref

    async def both():  # one left-padded batch: pixel_values for one row, pixel_values_videos for the other
        return await asyncio.gather(
            server.generate(ids, GREEDY, "v2", video_data=[video]),
            server.generate(image_enc["input_ids"][0].tolist(), GREEDY, "i2", image_data=[image]),
        )

    video_out, image_out = asyncio.run(both())
    assert video_out.token_ids == ref and image_out.token_ids == image_ref.tolist()


def test_sampling_params_map_to_transformers():
    spec = SamplingSpec.from_params({"temperature": 0.7, "top_p": 0.9, "top_k": -1, "stop_token_ids": [5, 3, 5]})
    # verl/vLLM send top_k=-1 for "off"; transformers would apply its default top_k=50 unless told 0.
    assert (spec.top_k, spec.stop_token_ids) == (0, (3, 5))
    assert spec.generate_kwargs([9]) == {
        "eos_token_id": [3, 5, 9], "repetition_penalty": 1.0, "do_sample": True, "temperature": 0.7, "top_p": 0.9,
        "top_k": 0,
    }  # fmt: skip
    greedy = SamplingSpec.from_params({"temperature": 0, "ignore_eos": True, "stop_token_ids": [3]})
    assert greedy.generate_kwargs([9])["do_sample"] is False
    assert greedy.stops([9]) == frozenset({3})  # ignore_eos keeps explicit stop tokens only


def test_token_budget_and_cut():
    # vLLM's default budget for verl: min(response_length, prompt_length + response_length - prompt).
    assert max_new_tokens({}, prompt_len=900, prompt_length=1024, response_length=256) == 256
    assert max_new_tokens({}, prompt_len=1200, prompt_length=1024, response_length=256) == 80
    assert max_new_tokens({"max_tokens": 7}, 10, 1024, 256) == 7
    lp = torch.log_softmax(torch.zeros(5, 10), -1)
    cut = _cut(torch.tensor([4, 2, 9, 1, 1]), lp, budget=5, stops=frozenset({9}))
    assert cut.token_ids == [4, 2, 9] and len(cut.log_probs) == 3  # the stop token is kept, as vLLM returns it
    assert _cut(torch.tensor([4, 2, 9]), lp, budget=2, stops=frozenset({9})).token_ids == [4, 2]


def test_concurrent_requests_share_a_batch_and_keep_their_budgets(server, tiny_processor, monkeypatch):
    import verl_pixel.backends.hf_server as hf_server

    sizes: list[int] = []
    real = hf_server.generate_batch
    monkeypatch.setattr(hf_server, "generate_batch", lambda *a, **k: sizes.append(len(a[2])) or real(*a, **k))
    encs = [encode(tiny_processor, (112, 112), "Q" + "?" * i) for i in range(4)]

    async def go():
        return await asyncio.gather(
            *[
                server.generate(e["input_ids"][0].tolist(), {**GREEDY, "max_tokens": 3 + i}, f"b{i}", image_data=[im])
                for i, (e, im) in enumerate(encs)
            ]
        )

    outs = asyncio.run(go())
    assert sizes == [4]  # one left-padded generate call for the four
    assert [len(o.token_ids) for o in outs] == [3, 4, 5, 6]


SAMPLED = {"temperature": 1.0, "top_p": 1.0, "top_k": -1, "max_tokens": 12}


def _sample_all(server, prompts, order, concurrent):
    """Send ``prompts[i]`` for i in ``order`` (all at once, or one after the other); outputs by prompt index."""

    async def one(index):
        ids, image = prompts[index]
        out = await server.generate(ids, SAMPLED, f"s{index}", image_data=[image])
        return index, tuple(out.token_ids), out.log_probs

    async def go():
        if concurrent:
            return await asyncio.gather(*[one(i) for i in order])
        return [await one(i) for i in order]

    by_prompt: dict[int, list] = {}
    for index, tokens, log_probs in asyncio.run(go()):
        by_prompt.setdefault(index, []).append((tokens, log_probs))
    return by_prompt


def test_sampling_is_reproducible_from_the_rollout_seed_whatever_the_arrival_order(tiny_model_dir, tiny_processor):
    """Same seed -> same samples, whether requests arrive batched or one by one, in any order (issue 14 item 7)."""
    encs = [encode(tiny_processor, (112, 112), "Q" + "?" * i) for i in range(3)]
    prompts = [(e["input_ids"][0].tolist(), image) for e, image in encs]
    order = [0, 1, 2, 0, 1, 2]  # each prompt twice, like two rollouts of one GRPO group
    seeded = "actor_rollout_ref.rollout.seed=1234"
    first = _sample_all(make_server(tiny_model_dir, seeded), prompts, order, concurrent=True)
    # A fresh server with the same seed, requests in reverse order and unbatched.
    second = _sample_all(make_server(tiny_model_dir, seeded), prompts, order[::-1], concurrent=False)
    other = _sample_all(make_server(tiny_model_dir, "actor_rollout_ref.rollout.seed=99"), prompts, order, True)
    for index in range(3):
        # Equal requests are interchangeable, so compare each prompt's samples as a set.
        assert sorted(t for t, _ in first[index]) == sorted(t for t, _ in second[index]), index
        # The two rollouts of one prompt differ (the occurrence index enters the seed): it is sampling, not greedy.
        assert first[index][0][0] != first[index][1][0]
        # Log-probs agree up to the float rounding of batched vs unbatched forward passes.
        for tokens, log_probs in first[index]:
            (match,) = [lp for t, lp in second[index] if t == tokens]
            assert torch.allclose(torch.tensor(log_probs), torch.tensor(match), atol=1e-4)
    assert {t for i in range(3) for t, _ in first[i]}.isdisjoint({t for i in range(3) for t, _ in other[i]})


def test_seeded_sampling_draws_from_the_warped_distribution():
    """Top-k 1 leaves one token: the seeded sampler must pick it at every step (the warpers run before the draw)."""
    from verl_pixel.backends.hf_generation import SeededSampling

    scores = torch.tensor([[0.0, 3.0, 1.0, 2.0], [5.0, 0.0, 0.0, 0.0]])
    spec = SamplingSpec.from_params({"temperature": 1.0, "top_k": 1})
    picked = SeededSampling([1, 2], spec)(torch.zeros(2, 1, dtype=torch.long), scores)
    assert picked.tolist() == [[float("-inf"), 0.0, float("-inf"), float("-inf")], [0.0] + [float("-inf")] * 3]
    # Same seeds, same draws; the input scores are untouched (transformers keeps them as the raw logits).
    flat = torch.zeros(2, 50)
    draws = [SeededSampling([7, 8], SamplingSpec())(torch.zeros(2, 1, dtype=torch.long), flat).argmax(-1).tolist()
             for _ in range(2)]  # fmt: skip
    assert draws[0] == draws[1] and torch.equal(flat, torch.zeros(2, 50))


def test_nudge_forces_first_turn_prefix_with_model_log_probs(tiny_model_dir, tiny_processor):
    nudge = '<tool_call>\n{"name": "crop_image"'
    server = make_server(
        tiny_model_dir,
        f"+actor_rollout_ref.rollout.engine_kwargs.hf.nudge_text='{nudge}'",
        "+actor_rollout_ref.rollout.engine_kwargs.hf.nudge_every=2",
    )
    enc, image = encode(tiny_processor, (112, 112))
    params = {**GREEDY, "max_tokens": 30}
    outs = [
        asyncio.run(server.generate(enc["input_ids"][0].tolist(), params, "n", image_data=[image])) for _ in range(4)
    ]
    decoded = [tiny_processor.tokenizer.decode(o.token_ids) for o in outs]
    # Every 2nd first-turn request is the call followed by the end of the turn, as a real model would write it.
    assert [d == nudge + "<|im_end|>" for d in decoded] == [True, False, True, False], decoded
    assert all(lp < 0 for lp in outs[0].log_probs)  # forced tokens keep the model's (low) log-probs, not 0


def test_followup_nudge_forces_the_later_turns(tiny_model_dir, tiny_processor):
    server = make_server(
        tiny_model_dir,
        "+actor_rollout_ref.rollout.engine_kwargs.hf.nudge_text='<tool_call>'",
        "+actor_rollout_ref.rollout.engine_kwargs.hf.nudge_every=1",
        "+actor_rollout_ref.rollout.engine_kwargs.hf.nudge_followup_text='\\boxed{B}'",
    )
    enc, image = encode(tiny_processor, (112, 112))
    first = enc["input_ids"][0].tolist()
    tokenizer = tiny_processor.tokenizer
    later = first + tokenizer.encode("<tool_call><|im_end|>\n<|im_start|>user\nok<|im_end|>\n<|im_start|>assistant\n")
    params = {**GREEDY, "max_tokens": 30}
    outs = [asyncio.run(server.generate(ids, params, "f", image_data=[image])) for ids in (first, later, later)]
    assert [tokenizer.decode(o.token_ids) for o in outs] == ["<tool_call><|im_end|>", *["\\boxed{B}<|im_end|>"] * 2]


def test_vision_placeholders_are_never_sampled(tiny_model_dir):
    server = make_server(tiny_model_dir)  # default options: suppression on
    pad = server.model_config.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    # Make <|image_pad|> the model's favourite token; the server must still never emit it.
    bias = server.model.lm_head.weight.data[pad].clone()
    server.model.lm_head.weight.data[pad] = server.model.lm_head.weight.data.abs().max() * 50
    try:
        out = asyncio.run(server.generate([1, 2, 3, 4], {**GREEDY, "max_tokens": 20}, "v"))
    finally:
        server.model.lm_head.weight.data[pad] = bias
    assert pad not in out.token_ids and len(out.token_ids) == 20
    assert max(out.log_probs) < -1  # reported log-probs are the unsuppressed model's: the pad took the mass


def test_abort_answers_queued_requests_as_aborted_and_pauses_until_resume(server, tiny_processor):
    enc, image = encode(tiny_processor, (112, 112))

    async def go():
        ids = enc["input_ids"][0].tolist()
        queued = asyncio.ensure_future(server.generate(ids, GREEDY, "q", image_data=[image]))
        await asyncio.sleep(0)  # queued, not started: the batcher waits one tick
        report = await server.abort_all_requests(reject_request=True)
        first = await queued
        during = await server.generate(ids, GREEDY, "p", image_data=[image])
        await server.resume_generation()
        after = await server.generate(ids, GREEDY, "r", image_data=[image])
        return report, first, during, after

    report, first, during, after = asyncio.run(go())
    assert report == {"aborted": 1}
    assert (first.stop_reason, first.token_ids) == ("aborted", [])  # verl's async trainers resubmit these
    assert during.stop_reason == "aborted"
    assert after.stop_reason == "completed" and len(after.token_ids) == 10


def test_update_weights_copies_tensors_and_rejects_unknown_names(server):
    name, tensor = next(iter(server.model.state_dict().items()))
    before = server.weight_version
    count = asyncio.run(server.update_weights([(name, torch.full_like(tensor, 0.25))], global_steps=3))
    assert count == 1 and server.weight_version == before + 1 and server.global_steps == 3
    assert torch.all(server.model.state_dict()[name] == 0.25)
    with pytest.raises(KeyError, match="not in the model"):
        asyncio.run(server.update_weights([("no.such.weight", tensor)]))


def test_backend_is_registered_in_both_verl_registries():
    import verl  # noqa: F401  (loads the plugin)
    from verl.workers.rollout.base import get_rollout_class
    from verl.workers.rollout.replica import RolloutReplicaRegistry

    from verl_pixel.backends.hf_adapter import HFServerAdapter
    from verl_pixel.backends.hf_replica import HFReplica

    assert RolloutReplicaRegistry.get("hf") is HFReplica
    assert get_rollout_class("hf", "async") is HFServerAdapter


def test_the_sampling_seed_depends_on_the_video_pixels(tiny_model_dir):
    from verl_pixel.backends.hf_generation import request_key

    ids = [1, 2, 3]
    same, other = _video(), _video(colour_step=11)
    assert request_key(ids, [], [same]) == request_key(ids, [], [_video()])
    assert request_key(ids, [], [same]) != request_key(ids, [], [other]) != request_key(ids, [], [])


def test_the_policy_loads_in_the_configured_dtype_and_attention(tiny_model_dir):
    bf16 = make_server(tiny_model_dir, "actor_rollout_ref.rollout.dtype=bfloat16")
    assert {p.dtype for p in bf16.model.parameters()} == {torch.bfloat16}  # verl's default rollout dtype
    assert bf16.model.config._attn_implementation == "sdpa"
    eager = make_server(tiny_model_dir, "++actor_rollout_ref.model.override_config.attn_implementation=eager")
    assert {p.dtype for p in eager.model.parameters()} == {torch.float32}
    assert eager.model.config._attn_implementation == "eager"
