"""Architecture rules: the pure core never imports verl, imports point one way, modules stay small."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "verl_pixel"

# verl adapters and faces: the only modules allowed to import verl (or the project's own adapters).
ADAPTERS = {
    "plugin.py", "cli.py", "quickstart.py", "quickstart_pipeline.py", "grpo_cpu.py",
    "platform/cpu.py", "rollout/agent_loop.py", "rollout/tool_parser.py",
    "tools/pixel_tools.py", "tools/schema_yaml.py", "tools/session.py", "tools/originals.py",
    "reward/manager.py", "reward/replay_buffer.py",
    "backends/hf_server.py", "backends/hf_adapter.py", "backends/hf_replica.py",
    "data/sft_dataset.py", "data/rl_dataset.py",
}  # fmt: skip
ADAPTER_PACKAGES = ("verl_pixel.testing", "verl_pixel.viewer")  # test kit and viewer: faces, may use anything
PURE_CORE = ("ops", "reward", "eval", "rollout/config.py", "rollout/modes.py", "rollout/trajectory.py", "record.py")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _core_files() -> list[Path]:
    files: list[Path] = []
    for entry in PURE_CORE:
        target = ROOT / entry
        files += sorted(target.rglob("*.py")) if target.is_dir() else [target]
    return [f for f in files if f.relative_to(ROOT).as_posix() not in ADAPTERS]


def test_pure_core_never_imports_verl():
    offenders = {
        f.relative_to(ROOT).as_posix(): sorted(m for m in _imports(f) if m.split(".")[0] in {"verl", "transfer_queue"})
        for f in _core_files()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_pure_core_never_imports_adapters():
    adapter_modules = {"verl_pixel." + a.removesuffix(".py").replace("/", ".") for a in ADAPTERS}
    offenders = {
        f.relative_to(ROOT).as_posix(): sorted(
            m for m in _imports(f) if m in adapter_modules or m.startswith(ADAPTER_PACKAGES)
        )
        for f in _core_files()
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_modules_stay_under_400_lines():
    sizes = {f.relative_to(ROOT).as_posix(): len(f.read_text().splitlines()) for f in ROOT.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 400} == {}
