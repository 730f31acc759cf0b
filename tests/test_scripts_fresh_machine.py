"""scripts/_venv.sh and scripts/test on a fresh Debian machine: what they install, or say.

Each test runs the real scripts in a copy of the project with a PATH holding only a few
real tools and stand-ins: a ``python3`` whose venv fails as Debian's does without
python3.X-venv (half-made .venv, ensurepip missing) until that package is "installed",
``apt-get`` and ``sudo`` that record their calls, and ``id`` saying which user runs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
VENV_PACKAGE = f"python{sys.version_info[0]}.{sys.version_info[1]}-venv"
DEBIAN_VENV_ERROR = "The virtual environment was not created successfully because ensurepip"
REAL_TOOLS = ("bash", "cat", "rm", "dirname", "mktemp", "env", "mkdir")

PYTHON = f"""#!{sys.executable}
# python3 as Debian ships it: venv fails half-way until python3.X-venv is installed.
import os, sys
here = {{here!r}}
installed = os.path.exists(os.path.join(here, "installed-{VENV_PACKAGE}"))
args = sys.argv[1:]
if args[:2] == ["-m", "venv"]:
    os.makedirs(".venv/bin", exist_ok=True)
    recorder = ".venv/bin/python"
    with open(recorder, "w") as handle:
        handle.write('#!/bin/sh\\necho "$*" >> ' + os.path.join(here, "pip-calls") + "\\n")
    os.chmod(recorder, 0o755)
    if installed or os.environ.get("ENSUREPIP"):
        if os.environ.get("VENV_FAILS"):
            print("Error: [Errno 28] No space left on device", file=sys.stderr)
            sys.exit(1)
        sys.exit(0)
    print("{DEBIAN_VENV_ERROR} is not available.  On Debian/Ubuntu systems, you need "
          "to install the python3-venv package", file=sys.stderr)
    sys.exit(1)
if args == ["-c", "import ensurepip"]:
    sys.exit(0 if installed or os.environ.get("ENSUREPIP") else 1)
os.execv(sys.executable, [sys.executable, *args])
"""

APT_GET = f"""#!{sys.executable}
import os, sys
here = {{here!r}}
with open(os.path.join(here, "apt-calls"), "a") as log:
    log.write(os.environ.get("RUN_BY", "") + " ".join(sys.argv[1:]) + "\\n")
print("Reading package lists... Done")
if os.environ.get("APT_FAILS") and sys.argv[1] == "install":
    print("E: Unable to locate package " + sys.argv[-1], file=sys.stderr)
    sys.exit(100)
if sys.argv[1] == "install":
    open(os.path.join(here, "installed-" + sys.argv[-1]), "w").close()
"""

SUDO = """#!/bin/sh
RUN_BY="sudo " exec "$@"
"""

ID = """#!/bin/sh
echo "${FAKE_UID:-1000}"
"""


def _machine(tmp_path: Path, *, apt: bool = True, sudo: bool = False) -> Path:
    """A project copy (scripts, pyproject.toml) and a bin/ with the tools a machine has."""
    project = tmp_path / "project"
    (project / "scripts").mkdir(parents=True)
    for script in ("_venv.sh", "_apt.sh", "test"):
        shutil.copy(ROOT / "scripts" / script, project / "scripts" / script)
    shutil.copy(ROOT / "pyproject.toml", project / "pyproject.toml")
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in REAL_TOOLS:
        real = shutil.which(name)
        assert real is not None, name
        (tools / name).symlink_to(real)
    stand_ins = {"python3": PYTHON.format(here=str(tmp_path)), "id": ID}
    if apt:
        stand_ins["apt-get"] = APT_GET.format(here=str(tmp_path))
    if sudo:
        stand_ins["sudo"] = SUDO
    for name, text in stand_ins.items():
        (tools / name).write_text(text)
        (tools / name).chmod(0o755)
    return project


def _run(
    project: Path, command: str, *, uid: int = 0, **env: str
) -> subprocess.CompletedProcess[str]:
    tools = project.parent / "bin"
    return subprocess.run(
        [shutil.which("bash") or "/bin/bash", "-c", command],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": str(tools), "FAKE_UID": str(uid), "PYTHON": str(tools / "python3"), **env},
    )


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_as_root_the_venv_package_is_installed_quietly_and_the_venv_made(tmp_path: Path) -> None:
    project = _machine(tmp_path)
    result = _run(project, 'source scripts/_venv.sh "test"', uid=0)
    assert result.returncode == 0, result.stderr
    assert _lines(tmp_path / "apt-calls") == ["update -qq", f"install -y -qq {VENV_PACKAGE}"]
    assert any("-e .[test]" in call for call in _lines(tmp_path / "pip-calls"))
    assert f"Installing {VENV_PACKAGE}" in result.stderr
    assert DEBIAN_VENV_ERROR not in result.stderr  # Debian's long advice is not shown
    assert "Reading package lists" not in result.stdout + result.stderr


def test_without_root_the_venv_package_is_installed_through_sudo(tmp_path: Path) -> None:
    project = _machine(tmp_path, sudo=True)
    result = _run(project, 'source scripts/_venv.sh "test"', uid=1000)
    assert result.returncode == 0, result.stderr
    assert _lines(tmp_path / "apt-calls") == [
        "sudo update -qq",
        f"sudo install -y -qq {VENV_PACKAGE}",
    ]


def test_without_root_or_sudo_one_line_says_what_to_install(tmp_path: Path) -> None:
    project = _machine(tmp_path, sudo=False)
    result = _run(project, 'source scripts/_venv.sh "test"', uid=1000)
    assert result.returncode == 1
    said = result.stderr.splitlines()
    assert said[0].startswith("Setting up .venv")
    assert said[1:] == [
        f"Install {VENV_PACKAGE} ($PYTHON -m venv needs it to create .venv) as root: "
        f"apt-get install {VENV_PACKAGE}; then run again.".replace(
            "$PYTHON", str(tmp_path / "bin" / "python3")
        )
    ]
    assert not (tmp_path / "apt-calls").exists()
    assert not (project / ".venv").exists()  # no half-made venv for the next run to trust


def test_without_apt_get_one_line_says_what_to_install(tmp_path: Path) -> None:
    project = _machine(tmp_path, apt=False)
    result = _run(project, 'source scripts/_venv.sh "test"', uid=0)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()[1:]
    assert line.startswith(f"Install {VENV_PACKAGE} (")
    assert line.endswith("with your system's package manager, then run again.")
    assert not (project / ".venv").exists()


def test_a_failed_apt_get_shows_its_output_and_what_to_install(tmp_path: Path) -> None:
    project = _machine(tmp_path)
    result = _run(project, 'source scripts/_venv.sh "test"', uid=0, APT_FAILS="1")
    assert result.returncode == 1
    assert f"E: Unable to locate package {VENV_PACKAGE}" in result.stderr
    assert result.stderr.splitlines()[-1].startswith(
        f"Installing {VENV_PACKAGE} with apt-get failed (output above)"
    )
    assert not (project / ".venv").exists()


def test_a_venv_failing_for_another_reason_shows_why_and_installs_nothing(
    tmp_path: Path,
) -> None:
    project = _machine(tmp_path)
    result = _run(project, 'source scripts/_venv.sh "test"', uid=0, ENSUREPIP="1", VENV_FAILS="1")
    assert result.returncode == 1
    assert "No space left on device" in result.stderr
    assert "-m venv failed (output above)" in result.stderr
    assert not (tmp_path / "apt-calls").exists()
    assert not (project / ".venv").exists()


def test_scripts_test_says_in_one_line_how_to_get_redis_without_root(tmp_path: Path) -> None:
    project = _machine(tmp_path)
    made = _run(project, 'source scripts/_venv.sh "test"', uid=0)  # .venv made, as root
    assert made.returncode == 0, made.stderr
    result = _run(project, "scripts/test", uid=1000)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Install redis-server (the membership-coordination tests run a real one) as root: "
        "apt-get install redis-server; then run again."
    ]
    assert _lines(tmp_path / "apt-calls") == ["update -qq", f"install -y -qq {VENV_PACKAGE}"]


def test_a_package_is_installed_quietly_as_root(tmp_path: Path) -> None:
    project = _machine(tmp_path)
    result = _run(project, 'source scripts/_apt.sh; apt_install redis-server "the tests"', uid=0)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == "Installing redis-server (the tests)...\n"
    assert _lines(tmp_path / "apt-calls") == ["update -qq", "install -y -qq redis-server"]
