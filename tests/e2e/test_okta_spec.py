"""Okta's SCIM 2.0 SPEC test, every step, against the proxy in front of the simulator."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import TOKEN
from tests.okta_spec import run_spec_test

pytestmark = pytest.mark.anyio


async def test_every_step_of_oktas_spec_test_passes(client: httpx.AsyncClient) -> None:
    assert await run_spec_test(client, f"Bearer {TOKEN}", groups=True) == 12
