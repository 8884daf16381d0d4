"""Review standards of the eval package: no verl import (verl is only driven through its config), small modules."""

from __future__ import annotations

import ast
from pathlib import Path

import verl_pixel.eval

EVAL_DIR = Path(verl_pixel.eval.__file__).parent


def _imports(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_no_verl_import_and_small_modules():
    files = sorted(EVAL_DIR.rglob("*.py"))
    offenders = {p.name: found for p in files if (found := sorted(m for m in _imports(p) if m.split(".")[0] == "verl"))}
    assert offenders == {}
    assert {p.name: n for p in files if (n := len(p.read_text().splitlines())) > 400} == {}
