"""verl discovers the plugin through its entry point in a fresh process and in a Ray worker; the check is loud."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata

import pytest

PROBE = (
    "import json, sys, verl; from verl_pixel.plugin import registered_components; "
    "print(json.dumps({'loaded': 'verl_pixel.plugin' in sys.modules, 'components': registered_components()}))"
)


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, timeout=180
    )


def test_entry_point_is_installed_and_points_at_plugin_module():
    eps = {ep.name: ep.value for ep in metadata.entry_points(group="verl.plugins")}
    assert eps.get("verl_pixel") == "verl_pixel.plugin"


def test_bare_import_verl_in_fresh_process_loads_plugin():
    # The probe only imports verl: the plugin must arrive through verl's own entry-point discovery.
    proc = _run(PROBE)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["loaded"] is True
    assert out["components"]["platform"] == ["cpu"]
    assert out["components"]["adv_estimator"] == ["pixel_precomputed"]


def test_plugin_is_skipped_when_verl_plugins_disabled():
    # Control for the test above: with discovery off, nothing of ours is imported by `import verl`.
    proc = _run("import sys, verl; print('verl_pixel.plugin' in sys.modules)", VERL_USE_EXTERNAL_PLUGINS="none")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.slow
def test_ray_worker_sees_registrations():
    # Ray's socket paths must stay under 107 bytes, so its temp dir is a short mkdtemp, not pytest's tmp_path.
    tmp = tempfile.mkdtemp(prefix="vp_ray_")
    code = f"""
import json, ray
ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, _temp_dir={tmp!r})
@ray.remote
def probe():
    import sys, verl
    from verl_pixel.plugin import registered_components
    from verl.plugin.platform.platform_manager import PlatformRegistry
    return {{"loaded": "verl_pixel.plugin" in sys.modules, "components": registered_components(),
             "platforms": list(PlatformRegistry.registered_names())}}
print(json.dumps(ray.get(probe.remote())))
ray.shutdown()
"""
    try:
        proc = _run(code, RAY_AUTH_MODE="disabled")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["loaded"] is True
    assert out["components"]["platform"] == ["cpu"] and "cpu" in out["platforms"]


def test_check_command_lists_registrations():
    proc = subprocess.run(
        [sys.executable, "-m", "verl_pixel.plugin", "--check"], capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr
    assert "verl 0.9.1; verl-pixel plugin verl_pixel.plugin loaded" in proc.stdout
    assert "platform        cpu" in proc.stdout


def test_check_command_fails_loudly_when_plugin_cannot_import():
    # Break one of the plugin's imports. `import verl` swallows that silently (DEBUG log); the check must not.
    breaker = "import sys; sys.modules['verl_pixel.platform.cpu'] = None; "
    silent = _run(breaker + "import verl; print('imported verl')")
    assert silent.returncode == 0 and "imported verl" in silent.stdout
    loud = _run(breaker + "from verl_pixel.cli import main; sys.exit(main(['doctor']))")
    assert loud.returncode != 0
    assert "ModuleNotFoundError" in loud.stderr and "verl_pixel.platform.cpu" in loud.stderr
