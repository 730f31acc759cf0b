"""What the image and the package promise, checked from their files.

No Docker engine runs on the CI machines, so the Dockerfile is checked statically.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

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
