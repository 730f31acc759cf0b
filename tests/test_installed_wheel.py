"""The package as users install Python tools: a built wheel in a fresh virtual environment.

The wheel is built from a copy of the files the build reads (so the checkout gets no
``build/`` or ``*.egg-info``), installed into a new virtual environment in a temporary
directory, and its ``scim-proxy`` command is run from there, with the working directory
outside the checkout: ``demo`` (its printed first request is sent as printed), ``serve``
and ``check``. The dependencies come from the project's own ``.venv`` through a ``.pth``
file, so the test needs no network; the wheel's own files are what is under test.
"""

from __future__ import annotations

import re
import shlex
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scim_proxy import __version__
from tests.processes import free_port, stop, wait_until_up

ROOT = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The ``bin`` directory of a fresh virtual environment holding only the built wheel."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "scim_proxy", source / "scim_proxy", ignore=shutil.ignore_patterns("__pycache__")
    )
    dist = work / "dist"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"),
            *("--no-build-isolation", "--disable-pip-version-check"),
            *("--wheel-dir", str(dist), str(source)),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    [wheel] = dist.glob("scim_proxy-*.whl")
    venv = work / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"),
            *("--no-deps", "--disable-pip-version-check", str(wheel)),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # Dependencies from this environment; only directory names, so this environment's own
    # .pth files (the editable install of the checkout) are not processed there.
    dependencies = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    dependencies |= set(site.getsitepackages())
    (Path(purelib) / "_scim_proxy_test_dependencies.pth").write_text(
        "\n".join(sorted(dependencies)) + "\n"
    )
    yield venv / "bin"
    shutil.rmtree(work, ignore_errors=True)


def _run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(bin_dir / "scim-proxy"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )


def _start(bin_dir: Path, *args: str, cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(bin_dir / "scim-proxy"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"},
    )


def test_the_wheel_holds_the_package_and_its_command_only(installed: Path) -> None:
    [wheel] = (installed.parents[1] / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n == "scim_proxy/cli.py" for n in names)
    assert any(n.startswith("scim_proxy/simulator/") for n in names)
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "scim-proxy = scim_proxy.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_the_installed_command_runs_from_the_wheel_not_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    version = _run(installed, "--version", cwd=tmp_path)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"scim-proxy {__version__}"
    where = subprocess.run(
        [str(installed / "python"), "-c", "import scim_proxy; print(scim_proxy.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert Path(where).resolve().is_relative_to(installed.parent.resolve())


def test_the_installed_demo_answers_its_own_printed_first_request(
    installed: Path, tmp_path: Path
) -> None:
    port, sim_port = free_port(), free_port()
    demo = _start(
        installed, "demo", "--port", str(port), "--simulator-port", str(sim_port), cwd=tmp_path
    )
    try:
        assert demo.stdout is not None
        curl = ""
        for _ in range(20):  # the banner comes first, before the servers start
            line = demo.stdout.readline().decode().strip()
            if line.startswith("curl "):
                curl = line
                break
        assert curl, "the demo printed no first request"
        wait_until_up(f"http://127.0.0.1:{port}/healthz", demo)
        # The printed command, as a newcomer pastes it: curl -H 'header' 'url'.
        words = shlex.split(curl)
        name, _, value = words[words.index("-H") + 1].partition(": ")
        answer = httpx.get(words[-1], headers={name: value}, timeout=10)
        checked = _run(
            installed,
            "check",
            "--token",
            "demo-token",
            "--upstream",
            f"http://127.0.0.1:{sim_port}",
            cwd=tmp_path,
        )
    finally:
        stop(demo)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert body["Resources"]
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "The proxy can work with this account." in checked.stdout


def test_the_installed_serve_proxies_to_an_upstream(installed: Path, tmp_path: Path) -> None:
    port, sim_port = free_port(), free_port()
    simulator = _start(
        installed,
        "simulator",
        "--port",
        str(sim_port),
        "--token",
        "wheel",
        "--users",
        "2",
        cwd=tmp_path,
    )
    serve = None
    try:
        wait_until_up(f"http://127.0.0.1:{sim_port}/users", simulator)
        serve = _start(
            installed,
            "serve",
            "--port",
            str(port),
            "--upstream",
            f"http://127.0.0.1:{sim_port}",
            cwd=tmp_path,
        )
        wait_until_up(f"http://127.0.0.1:{port}/healthz", serve)
        listed = httpx.get(
            f"http://127.0.0.1:{port}/scim/v2/Users",
            headers={"Authorization": "Bearer wheel"},
            timeout=10,
        )
    finally:
        output = stop(serve) if serve is not None else ""
        stop(simulator)
    assert listed.status_code == 200, listed.text
    assert listed.json()["totalResults"] == 3
    assert re.search(r'"event":\s*"startup"', output)
