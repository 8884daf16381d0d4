"""The README's file map lists every room and top-level module; its commands are the ones CI and the quick start run."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_file_map_lists_every_package_and_top_level_module():
    readme = (ROOT / "README.md").read_text()
    package = ROOT / "verl_pixel"
    rooms = [f"verl_pixel/{p.parent.name}/" for p in package.glob("*/__init__.py")]
    rooms += [f"verl_pixel/{p.name}" for p in package.glob("*.py") if p.name != "__init__.py"]
    missing = [room for room in rooms if f"`{room}`" not in readme]
    assert not missing, f"add these to the README file map: {missing}"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python -m pytest -q" in readme and ci.rstrip().endswith("python -m pytest -q")
