"""Packaged configuration files: hydra yaml, tool yaml and chat templates."""

from __future__ import annotations

from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent


def chat_template_path(name: str) -> Path:
    """Return the path of a packaged chat template.

    Args:
        name: file name inside ``verl_pixel/configs/chat_templates`` (e.g. ``qwen2_5_vl_tools.jinja``).

    Raises:
        FileNotFoundError: if no such template ships with the package (lists the ones that do).
    """
    path = CONFIG_DIR / "chat_templates" / name
    if not path.is_file():
        shipped = sorted(p.name for p in (CONFIG_DIR / "chat_templates").glob("*.jinja"))
        raise FileNotFoundError(f"no chat template {name!r}; shipped templates: {shipped}")
    return path


def read_chat_template(name: str) -> str:
    """Return the text of a packaged chat template (see :func:`chat_template_path`)."""
    return chat_template_path(name).read_text(encoding="utf-8")
