"""The reward core stays verl-free; only the named adapter modules touch verl."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import verl_pixel.reward

REWARD_DIR = Path(verl_pixel.reward.__file__).parent
VERL_ADAPTERS = {"manager.py", "replay_buffer.py"}  # imported by module path, never by the package


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_adapters_import_verl():
    importers = {path.name for path in REWARD_DIR.glob("*.py") if {"verl", "transfer_queue"} & _imported_roots(path)}
    assert importers == VERL_ADAPTERS


def test_importing_the_package_does_not_import_verl():
    code = "import sys, verl_pixel.reward, verl_pixel.reward.group_step; print('verl' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"


def test_modules_stay_small():
    assert {p.name: n for p in REWARD_DIR.glob("*.py") if (n := len(p.read_text().splitlines())) > 400} == {}
