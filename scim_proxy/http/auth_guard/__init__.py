"""The auth guard the pipeline calls before routing (``guard.py``), with what it keeps:
the token allowlist (``allowlist.py``) and failed-authentication throttling
(``throttle.py``)."""
