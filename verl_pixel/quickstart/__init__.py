"""The quick start and the CPU runners of verl's real trainers, on the tiny model of :mod:`verl_pixel.tiny_models`.

SFT (:mod:`.sft`), GRPO (:mod:`.grpo_cpu`) and the pipeline that chains them (:mod:`.pipeline`).
"""
