"""The operation layer never imports verl (pure core, thin adapters)."""

from __future__ import annotations

import ast
from pathlib import Path

import verl_pixel.ops

OPS_DIR = Path(verl_pixel.ops.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def test_no_verl_import_in_ops():
    offenders = {
        path.name: sorted(module for module in _imported_modules(path) if module.split(".")[0] == "verl")
        for path in OPS_DIR.glob("*.py")
    }
    assert {name: modules for name, modules in offenders.items() if modules} == {}


def test_modules_stay_small():
    # review standard: modules under ~400 lines
    assert {path.name: n for path in OPS_DIR.glob("*.py") if (n := len(path.read_text().splitlines())) > 400} == {}
