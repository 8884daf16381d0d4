"""The README's file map lists every module, and its commands are the ones CI and the quick start run."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_file_map_lists_every_module():
    readme = (ROOT / "README.md").read_text()
    modules = [p.relative_to(ROOT).as_posix() for p in (ROOT / "verl_pixel").rglob("*.py") if p.name != "__init__.py"]
    missing = [m for m in modules if f"`{m}`" not in readme]
    assert not missing, f"add these to the README file map: {missing}"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest -q" in readme and ci.rstrip().endswith("python -m pytest -q")
