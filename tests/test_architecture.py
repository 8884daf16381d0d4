"""Architecture rules: imports point one way (faces -> verl adapters -> pure core), no cycles, small modules.

Every module of ``verl_pixel`` is in exactly one room:

* faces: command lines, the plugin entry point, the start-up check hydra calls, the quick start, ``verl-pixel smoke``
  (may import anything of ours; ``smoke/token_accounting.py`` also imports verl, as ``plugin.py`` does);
* verl adapters: the only modules that may import verl, Ray or TransferQueue;
* the test kit (``verl_pixel.testing``): fakes and harnesses, never imported by production code;
* the pure core: everything else. It imports no verl and none of the above.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "verl_pixel"
VERL_ROOTS = {"verl", "transfer_queue", "ray"}

FACES = {
    "cli.py", "plugin.py", "data/cli.py", "eval/cli.py", "viewer/cli.py",
    "quickstart/__init__.py", "quickstart/sft.py", "quickstart/pipeline.py", "quickstart/grpo_cpu.py",
    "quickstart/look_or_not.py",
    "startup_check.py", "smoke/__init__.py", "smoke/runner.py", "smoke/token_accounting.py",
}  # fmt: skip
VERL_ADAPTERS = {
    "plugin.py", "platform/cpu.py", "smoke/token_accounting.py",
    "rollout/agent_loop.py", "rollout/tool_parser.py", "rollout/in_process.py",
    "tools/pixel_tools.py", "tools/session.py", "tools/originals.py",
    "reward/adapters/__init__.py", "reward/adapters/manager.py", "reward/adapters/replay_buffer.py",
    "reward/adapters/advantage.py", "reward/adapters/probe_link.py",
    "backends/hf_adapter.py", "backends/hf_replica.py", "backends/hf_server.py", "backends/scripted_server.py",
    "data/sft_dataset.py", "data/rl_dataset.py",
}  # fmt: skip
TEST_KIT = "testing/"


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _module_name(rel: str) -> str:
    name = "verl_pixel." + rel.removesuffix(".py").replace("/", ".")
    return name.removesuffix(".__init__")


ALL_FILES = sorted(ROOT.rglob("*.py"))
MODULES = {_module_name(_rel(f)): f for f in ALL_FILES}


def _imports(path: Path) -> set[str]:
    """Every module named by an import anywhere in the file (function-level imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from verl_pixel.pkg import submodule` imports the submodule
            submodules = (f"{node.module}.{alias.name}" for alias in node.names)
            found.update(name for name in submodules if name in MODULES)
    return found


def _room(rel: str) -> str:
    if rel in FACES:
        return "face"
    if rel in VERL_ADAPTERS:
        return "adapter"
    if rel.startswith(TEST_KIT):
        return "test_kit"
    return "core"


ROOM_OF = {_module_name(_rel(f)): _room(_rel(f)) for f in ALL_FILES}


def test_every_listed_module_exists():
    assert sorted(rel for rel in FACES | VERL_ADAPTERS if not (ROOT / rel).is_file()) == []


def test_only_adapters_import_verl():
    offenders = {
        _rel(f): sorted(m for m in _imports(f) if m.split(".")[0] in VERL_ROOTS)
        for f in ALL_FILES
        if _room(_rel(f)) in {"core", "face"} and _rel(f) not in VERL_ADAPTERS
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_imports_point_one_way():
    allowed = {
        "core": {"core"},
        "adapter": {"core", "adapter"},
        "face": {"core", "adapter", "face"},
        "test_kit": {"core", "adapter", "test_kit"},
    }
    offenders = {}
    for name, path in MODULES.items():
        bad = sorted(m for m in _imports(path) if m in ROOM_OF and ROOM_OF[m] not in allowed[ROOM_OF[name]])
        if bad:
            offenders[name] = bad
    assert offenders == {}


def test_no_import_cycles():
    graph = {name: sorted(m for m in _imports(path) if m in MODULES and m != name) for name, path in MODULES.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])
    # A package __init__ that re-exports its own submodules is not a cycle: Python imports the package first.
    real = [c for c in cycles if not all(m.startswith(c[0] + ".") or m == c[0] for m in c)]
    assert real == []


def test_importing_the_pure_core_imports_no_verl():
    core = sorted(name for name, room in ROOM_OF.items() if room == "core" and not name.endswith("__main__"))
    code = "import sys\n" + "".join(f"import {name}\n" for name in core) + "print(sorted(m for m in sys.modules"
    code += " if m.split('.')[0] in {'verl', 'transfer_queue', 'ray'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == "[]"


def test_modules_stay_under_400_lines():
    sizes = {_rel(f): len(f.read_text().splitlines()) for f in ALL_FILES}
    assert {name: n for name, n in sizes.items() if n > 400} == {}


def test_library_code_logs_instead_of_printing():
    printing = {
        _rel(f)
        for f in ALL_FILES
        if _rel(f) not in FACES
        and any(
            isinstance(node, ast.Call) and getattr(node.func, "id", "") == "print"
            for node in ast.walk(ast.parse(f.read_text()))
        )
    }
    assert printing == set()
