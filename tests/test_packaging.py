"""What the image and the package promise, checked from their files.

No Docker engine runs on the CI machines, so the Dockerfile is checked statically.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import scim_proxy

ROOT = Path(__file__).parents[1]


def test_the_image_is_slim_non_root_healthchecked_and_serves() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim\b", dockerfile, re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users
    assert users[-1].split(":")[0] not in ("root", "0")
    assert "HEALTHCHECK" in dockerfile
    assert "/healthz" in dockerfile
    assert 'ENTRYPOINT ["scim-proxy", "serve"]' in dockerfile
    assert "SCIM_PROXY_SERVER_HOST=0.0.0.0" in dockerfile
    # Traces need only the standard OTEL_* variables in a container, not a rebuild.
    assert re.search(r"^RUN pip install .*\.\[otel\]", dockerfile, re.MULTILINE)


def test_the_test_extra_brings_the_otel_extra() -> None:
    # scripts/test installs .[test]: the tracing tests export through the SDK.
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert {re.split(r"[<>=]", d)[0] for d in extras["otel"]} == {
        "opentelemetry-api",
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-http",
    }
    assert "scim-proxy[otel]" in extras["test"]


def test_the_console_script_and_module_entry_point_exist() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["scim-proxy"] == "scim_proxy.cli:main"
    assert project["requires-python"] == ">=3.11"
    assert "test" in project["optional-dependencies"]
    result = subprocess.run(
        [sys.executable, "-m", "scim_proxy", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    for command in ("serve", "demo", "simulator"):
        assert command in result.stdout


def _project_copy(tmp_path: Path) -> Path:
    """scripts/_venv.sh and pyproject.toml, with a .venv whose python only records its calls."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "_venv.sh", tmp_path / "scripts" / "_venv.sh")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\necho "$*" >> "{tmp_path}/pip-calls"\n')
    python.chmod(0o755)
    return tmp_path


def _source_venv(project: Path, extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shutil.which("bash") or "/bin/bash", "-c", f'source scripts/_venv.sh "{extra}"'],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _calls(project: Path) -> list[str]:
    log = project / "pip-calls"
    return log.read_text().splitlines() if log.exists() else []


def test_the_scripts_install_once_then_skip_quietly_until_pyproject_changes(
    tmp_path: Path,
) -> None:
    project = _project_copy(tmp_path)
    first = _source_venv(project, "test")
    assert first.returncode == 0, first.stderr
    assert any("install" in c and "-e .[test]" in c for c in _calls(project))
    assert "Editable" not in first.stdout + first.stderr
    installs = len(_calls(project))

    again = _source_venv(project, "test")
    demo = _source_venv(project, "")  # the demo's plain install is covered by the test one
    assert (again.returncode, demo.returncode) == (0, 0)
    assert again.stdout + again.stderr + demo.stdout + demo.stderr == ""
    assert len(_calls(project)) == installs

    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n# a new dependency\n")
    changed = _source_venv(project, "test")
    assert changed.returncode == 0
    assert len(_calls(project)) > installs


def test_a_failed_install_shows_its_output_and_stops(tmp_path: Path) -> None:
    project = _project_copy(tmp_path)
    python = project / ".venv" / "bin" / "python"
    python.write_text('#!/bin/sh\necho "pip: no matching distribution" >&2\nexit 1\n')
    failed = _source_venv(project, "test")
    assert failed.returncode != 0
    assert "no matching distribution" in failed.stderr
    assert not (project / ".venv" / ".scim-proxy-installed").exists()


def test_the_command_says_its_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scim_proxy", "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"scim-proxy {scim_proxy.__version__}"
