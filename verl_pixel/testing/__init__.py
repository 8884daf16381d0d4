"""Offline test kit: a tiny Qwen2.5-VL with Qwen's special tokens, usable with no model hub."""

from verl_pixel.testing.tiny_model import TinyQwen25VLSpec, build_tiny_qwen25vl, cached_tiny_qwen25vl

__all__ = ["TinyQwen25VLSpec", "build_tiny_qwen25vl", "cached_tiny_qwen25vl"]
