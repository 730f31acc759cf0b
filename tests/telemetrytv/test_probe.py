"""``scim-proxy check``: every item passes against the simulator, and deviations are named."""

from __future__ import annotations

import httpx
import pytest

from scim_proxy.simulator import SimulatorSettings, create_simulator_app
from scim_proxy.telemetrytv import AuthScheme
from scim_proxy.telemetrytv.probe import Finding, run_probe

pytestmark = pytest.mark.anyio

TOKEN = "probe-token"


async def _probe(
    settings: SimulatorSettings, scheme: AuthScheme = AuthScheme.token
) -> list[Finding]:
    app = create_simulator_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
        findings = await run_probe(http, "http://tv.test", TOKEN, scheme)
    requests = {r.method for r in app.state.requests}
    assert requests == {"GET"}, "the probe only reads"
    return findings


def _failed(findings: list[Finding]) -> dict[str, Finding]:
    return {f.item: f for f in findings if not f.passed}


async def test_everything_passes_against_the_simulator() -> None:
    findings = await _probe(SimulatorSettings(token=TOKEN, users=3))
    assert len(findings) >= 12
    assert _failed(findings) == {}


async def test_a_missing_paging_header_is_named_but_not_fatal() -> None:
    findings = await _probe(SimulatorSettings(token=TOKEN, users=3, paging_header=False))
    failed = _failed(findings)
    assert list(failed) == ["paging header Total-Records-Count"]
    assert not failed["paging header Total-Records-Count"].critical


async def test_bearer_only_auth_says_which_setting_to_change() -> None:
    findings = await _probe(SimulatorSettings(token=TOKEN, users=3, auth_schemes=("bearer",)))
    failed = _failed(findings)
    assert list(failed) == ["auth scheme token accepted"]
    finding = failed["auth scheme token accepted"]
    assert finding.critical
    assert "upstream.auth_scheme = 'bearer'" in finding.fix


async def test_a_wrong_token_fails_critically() -> None:
    app = create_simulator_app(SimulatorSettings(token="another", users=1))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as http:
        findings = await run_probe(http, "http://tv.test", TOKEN, AuthScheme.token)
    assert [f.critical for f in findings if not f.passed] == [True]
    assert "Admin-group" in findings[-1].fix
