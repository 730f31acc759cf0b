"""What the process builds before serving is kept out of the garbage collector's passes.

Full collections walk every tracked object; modules, scim2-models' schemas and the app
live as long as the process, so ``serve`` freezes them, with one process as with several
workers, and collects start-up's garbage first (frozen, it would never be freed). Each
check runs in a fresh interpreter: freezing is process-wide.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

# Garbage left from before serving: a reference cycle only a collection frees (automatic
# collections are off, so that only the freeze's own collection can free it).
_GARBAGE = textwrap.dedent(
    """
    import gc
    import weakref

    gc.disable()
    freed = []
    holder = type("Holder", (), {})()
    holder.self = holder
    weakref.finalize(holder, freed.append, True)
    del holder

    def report():
        gc.collect()  # frozen garbage stays, whatever later collections do
        print(gc.get_freeze_count(), len(gc.get_objects()), bool(freed))
    """
)

_ONE_PROCESS = _GARBAGE + textwrap.dedent(
    """
    from scim_proxy import cli

    def run(server):
        # Where uvicorn would start serving: what the collector still walks.
        report()

    cli.DrainLoggingServer.run = run
    raise SystemExit(cli.main(["serve", "--port", "8080", "--upstream", "http://127.0.0.1:9"]))
    """
)

_WORKER = _GARBAGE + textwrap.dedent(
    """
    from scim_proxy.serving import app_from_environment

    app_from_environment()
    report()
    """
)


def _after_start_up(script: str) -> tuple[int, int, bool]:
    """Objects frozen, objects still tracked, and whether start-up's garbage was freed."""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    frozen, tracked, freed = out.strip().splitlines()[-1].split()
    return int(frozen), int(tracked), freed == "True"


def test_one_process_serve_freezes_what_it_built_before_serving() -> None:
    frozen, tracked, freed = _after_start_up(_ONE_PROCESS)
    # The app and its modules: tens of thousands of objects, against a handful left.
    assert frozen > 10 * tracked
    assert freed


def test_each_worker_freezes_what_it_built_before_serving() -> None:
    frozen, tracked, freed = _after_start_up(_WORKER)
    assert frozen > 10 * tracked
    assert freed
