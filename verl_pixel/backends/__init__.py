"""Rollout backends for verl: ``hf``, a transformers ``generate`` backend for CPU and small single-GPU runs."""
