"""What the process builds before serving is kept out of the garbage collector's passes.

Full collections walk every tracked object; modules, scim2-models' schemas and the app
live as long as the process, so ``serve`` freezes them, with one process as with several
workers. Each check runs in a fresh interpreter: freezing is process-wide.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

_ONE_PROCESS = textwrap.dedent(
    """
    import gc
    from scim_proxy import cli

    def run(server):
        # Where uvicorn would start serving: report what the collector still walks.
        print(gc.get_freeze_count(), len(gc.get_objects()))

    cli.DrainLoggingServer.run = run
    raise SystemExit(cli.main(["serve", "--port", "8080", "--upstream", "http://127.0.0.1:9"]))
    """
)

_WORKER = textwrap.dedent(
    """
    import gc
    from scim_proxy.http.app import create_app_from_environment

    create_app_from_environment()
    print(gc.get_freeze_count(), len(gc.get_objects()))
    """
)


def _frozen_and_tracked(script: str) -> tuple[int, int]:
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    frozen, tracked = out.strip().splitlines()[-1].split()
    return int(frozen), int(tracked)


def test_one_process_serve_freezes_what_it_built_before_serving() -> None:
    frozen, tracked = _frozen_and_tracked(_ONE_PROCESS)
    # The app and its modules: tens of thousands of objects, against a handful left.
    assert frozen > 10 * tracked


def test_each_worker_freezes_what_it_built_before_serving() -> None:
    frozen, tracked = _frozen_and_tracked(_WORKER)
    assert frozen > 10 * tracked
