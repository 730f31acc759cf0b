"""``scim-proxy check``: prove a TelemetryTV account against the contract before go-live.

Read checks (``telemetrytv/probe.py``), then with ``--write`` every kind of write the proxy
makes, carried out through the proxy's own adapter and read back (``write_steps.py``),
with everything it created removed at the end whatever happens (``ledger.py``,
``interrupts.py``), reported as lines or as JSON to share (``report.py``).
"""
