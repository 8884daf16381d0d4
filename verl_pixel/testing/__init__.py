"""Test kit: verl's real ``AgentLoopWorker`` in-process with fake LLM servers, and tiny SFT samples.

Never imported by production code; the tiny models the tests build live in :mod:`verl_pixel.tiny_models`.
"""
