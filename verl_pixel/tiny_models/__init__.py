"""Config-built tiny models with random weights: the quick start's and the CPU smoke runs' default model.

Real architectures (Qwen2.5-VL), an offline byte-level BPE tokenizer with Qwen's special tokens in Qwen's id order,
and a processor that builds without torchvision, saved as an ordinary Hugging Face folder. They stand in for a
downloaded checkpoint where none can be fetched; the tests use them too.
"""

from verl_pixel.tiny_models.qwen2_5_vl import TinyQwen25VLSpec, build_tiny_qwen25vl, cached_tiny_qwen25vl

__all__ = ["TinyQwen25VLSpec", "build_tiny_qwen25vl", "cached_tiny_qwen25vl"]
